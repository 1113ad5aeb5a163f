// Staff referral pages. Everything works without this script; it only makes the pages smoother:
// "Print" buttons (hidden until shown here), and reward forms that show the value field of the kind chosen.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-print]")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }

  for (const group of document.querySelectorAll("[data-reward-group]")) {
    const radios = group.querySelectorAll("input[type=radio]");
    const show = () => {
      const chosen = [...radios].find((radio) => radio.checked)?.value;
      for (const value of group.querySelectorAll("[data-reward-kind]")) {
        value.hidden = value.dataset.rewardKind !== chosen;
      }
    };
    for (const radio of radios) radio.addEventListener("change", show);
    show();
  }
});
