/* Service worker of the patient app, served at /sw.js so that its scope is the whole site.
   It shows web pushes sent by patients/push.py ({title, body, url}) and opens their link when tapped. */

self.addEventListener("install", () => {
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("push", (event) => {
  let data = {};
  if (event.data) {
    try {
      data = event.data.json();
    } catch (error) {
      data = { body: event.data.text() };
    }
  }
  const title = data.title || "New message";
  const body = data.body || "";
  const url = data.url || "/inbox/";
  event.waitUntil(
    self.registration.showNotification(title, {
      body: body,
      icon: "/static/img/icon-192.png",
      badge: "/static/img/icon-192.png",
      data: { url: url },
      // A push retried after a failure carries the same message: the tag makes it replace the first one.
      tag: [title, body, url].join("\n"),
    })
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const link = (event.notification.data && event.notification.data.url) || "/inbox/";
  let target = new URL(link, self.location.origin);
  // Links are the practice's own pages; anything else opens the inbox rather than a stranger's site.
  if (target.origin !== self.location.origin) {
    target = new URL("/inbox/", self.location.origin);
  }
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      for (const client of windows) {
        if (client.url === target.href && "focus" in client) {
          return client.focus();
        }
      }
      return self.clients.openWindow(target.href);
    })
  );
});
