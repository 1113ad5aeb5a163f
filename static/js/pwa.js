/* Makes the patient app installable (registers /sw.js) and, where the page has a button with
   id "enable-push" (the inbox), lets the patient turn on web push for this device. */
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) {
    return;
  }
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});

  const button = document.getElementById("enable-push");
  if (!button || !("PushManager" in window) || !("Notification" in window)) {
    return;
  }
  const status = document.getElementById("push-status");

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) {
      return meta.content;
    }
    const cookie = document.cookie.split("; ").find((part) => part.startsWith("csrftoken="));
    return cookie ? decodeURIComponent(cookie.split("=")[1]) : "";
  }

  // The VAPID public key is base64url; PushManager wants its raw bytes.
  function keyBytes(base64url) {
    const base64 = (base64url + "=".repeat((4 - (base64url.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(base64);
    return Uint8Array.from(raw, (char) => char.charCodeAt(0));
  }

  async function save(subscription) {
    const response = await fetch("/api/v1/push-subscriptions", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(subscription.toJSON()),
    });
    if (!response.ok) {
      throw new Error("The server refused the subscription (" + response.status + ").");
    }
  }

  async function existingSubscription() {
    const registration = await navigator.serviceWorker.ready;
    return registration.pushManager.getSubscription();
  }

  async function enable() {
    button.disabled = true;
    try {
      const permission = await Notification.requestPermission();
      if (permission !== "granted") {
        say("Notifications are blocked for this site. You can allow them in your browser's settings.");
        return;
      }
      const registration = await navigator.serviceWorker.ready;
      const subscription =
        (await registration.pushManager.getSubscription()) ||
        (await registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: keyBytes(button.dataset.publicKey),
        }));
      await save(subscription);
      button.hidden = true;
      say("Notifications are on for this device.");
    } catch (error) {
      say("We could not turn on notifications. Please try again.");
    } finally {
      button.disabled = false;
    }
  }

  button.addEventListener("click", enable);

  function sameKey(subscription) {
    const used = subscription.options && subscription.options.applicationServerKey;
    if (!used) {
      return true;
    }
    const current = keyBytes(button.dataset.publicKey);
    const bytes = new Uint8Array(used);
    return bytes.length === current.length && bytes.every((value, index) => value === current[index]);
  }

  // Already subscribed on this device: keep the server's copy current (it may have dropped a stale one)
  // instead of offering the button again. A subscription made with a replaced key can never be used.
  if (Notification.permission === "granted") {
    existingSubscription()
      .then(async (subscription) => {
        if (subscription && sameKey(subscription)) {
          return save(subscription);
        }
        if (subscription) {
          await subscription.unsubscribe();
        }
        button.hidden = false;
        return null;
      })
      .catch(() => {
        button.hidden = false;
      });
  } else if (Notification.permission !== "denied") {
    button.hidden = false;
  } else {
    say("Notifications are blocked for this site. You can allow them in your browser's settings.");
  }
})();
