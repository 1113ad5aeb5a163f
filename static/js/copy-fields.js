// "Copy" buttons next to read-only fields (a new API key and its signing secret): a button with
// data-copy="<field id>" copies that field. The buttons stay hidden where the clipboard is not available,
// and the text can still be selected by hand. An element with id "copy-status" says what happened.
document.addEventListener("DOMContentLoaded", () => {
  if (!navigator.clipboard) return;
  const status = document.getElementById("copy-status");
  const say = (text) => {
    if (status) status.textContent = text;
  };
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const field = document.getElementById(button.dataset.copy);
    if (!field) continue;
    button.hidden = false;
    button.addEventListener("click", () => {
      navigator.clipboard.writeText(field.value).then(
        () => say("Copied."),
        () => {
          field.select();
          say("Select the text and copy it.");
        },
      );
    });
  }
});
