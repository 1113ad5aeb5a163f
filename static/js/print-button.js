// Buttons marked data-print open the browser's print dialog (hidden without JavaScript, where the menu's Print works).
document.querySelectorAll("[data-print]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
