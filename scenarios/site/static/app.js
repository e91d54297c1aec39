// Marks the note a reader clicked; the page works without it.
document.addEventListener("click", (event) => {
  const note = event.target.closest(".note");
  if (note) note.classList.toggle("read");
});
