"""A logging TCP relay: sits between nginx and an app server and writes
every chunk of bytes, each way, to a JSON lines file.

    python3 relay.py LOG LISTEN_PORT:TARGET_PORT [LISTEN_PORT:TARGET_PORT ...]

Loopback only. One line per event: {"l": listen port, "c": connection
number, "e": "open" | "up" | "down" | "close", "b": base64 bytes}.
"""

import asyncio
import base64
import itertools
import json
import sys

counter = itertools.count(1)


def main():
    log = open(sys.argv[1], "a", buffering=1)

    def write(**entry):
        log.write(json.dumps(entry) + "\n")

    async def pipe(reader, writer, listen, conn, direction):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                write(l=listen, c=conn, e=direction, b=base64.b64encode(data).decode())
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                writer.write_eof()
            except (OSError, RuntimeError):
                writer.close()

    def handler(listen, target):
        async def handle(reader, writer):
            conn = next(counter)
            write(l=listen, c=conn, e="open")
            try:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", target), 5)
            except (OSError, asyncio.TimeoutError):
                writer.close()
                write(l=listen, c=conn, e="close")
                return
            await asyncio.gather(
                pipe(reader, up_writer, listen, conn, "up"),
                pipe(up_reader, writer, listen, conn, "down"))
            up_writer.close()
            writer.close()
            write(l=listen, c=conn, e="close")
        return handle

    async def serve():
        servers = []
        for spec in sys.argv[2:]:
            listen, target = (int(p) for p in spec.split(":"))
            servers.append(await asyncio.start_server(
                handler(listen, target), "127.0.0.1", listen))
        print("relay ready", flush=True)
        await asyncio.gather(*(s.serve_forever() for s in servers))

    asyncio.run(serve())


if __name__ == "__main__":
    main()
