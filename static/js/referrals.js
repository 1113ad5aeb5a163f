/* The "Share my link" buttons of the referral pages (buttons with data-share-url). They open the
   phone's share sheet where the browser has one (Web Share API) and otherwise copy the link.
   The buttons start hidden (in a [data-share-wrap] element): without JavaScript the link is shown
   to copy by hand. */
(function () {
  "use strict";

  function say(button, text) {
    const status = document.getElementById(button.dataset.shareStatus || "");
    if (status) {
      status.textContent = text;
    }
  }

  function selectLink(button) {
    const input = document.getElementById(button.dataset.shareInput || "");
    if (input) {
      input.focus();
      input.select();
    }
  }

  async function copy(button, url) {
    try {
      await navigator.clipboard.writeText(url);
      say(button, "Link copied. Paste it in a message to a friend.");
    } catch (error) {
      selectLink(button);
      say(button, "Copy the link above and send it to a friend.");
    }
  }

  async function share(button) {
    const url = button.dataset.shareUrl;
    const data = { title: button.dataset.shareTitle || "", text: button.dataset.shareText || "", url: url };
    if (navigator.share && (!navigator.canShare || navigator.canShare(data))) {
      try {
        await navigator.share(data);
        say(button, "Thank you for sharing!");
        return;
      } catch (error) {
        if (error && error.name === "AbortError") {
          return; // the patient closed the share sheet
        }
      }
    }
    if (navigator.clipboard && window.isSecureContext) {
      await copy(button, url);
    } else {
      selectLink(button);
      say(button, "Copy the link above and send it to a friend.");
    }
  }

  function setUp() {
    document.querySelectorAll("button[data-share-url]").forEach((button) => {
      if (button.dataset.shareReady) {
        return;
      }
      button.dataset.shareReady = "1";
      if (!navigator.share) {
        button.textContent = "Copy my link";
      }
      const wrap = button.closest("[data-share-wrap]");
      if (wrap) {
        wrap.hidden = false;
      }
      button.addEventListener("click", () => share(button));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
