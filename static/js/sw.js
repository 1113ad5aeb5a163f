/* Service worker of the patient app, served at /sw.js so that its scope is the whole site.
   - Keeps an app shell (the offline page, the stylesheet, scripts, icons) in a cache named for this version,
     and shows the offline page when a page cannot be loaded because the network is down. Pages and the API
     are never cached: they hold the patient's own data.
   - Shows web pushes sent by patients/push.py ({title, body, url}) and opens their link when tapped.
   The view that serves it (patients/views_notifications.py) puts CACHE_VERSION, OFFLINE_URL and SHELL before
   this code; a new version (a deploy, a new logo) installs a new worker, which deletes the old caches. */

const CACHE_NAME = "shell-" + CACHE_VERSION;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE_NAME)
      .then((cache) =>
        // Without cookies: the offline page is the same for everyone and must hold no one's session.
        cache.addAll(SHELL.map((url) => new Request(url, { credentials: "omit", cache: "reload" })))
      )
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(names.filter((name) => name.startsWith("shell-") && name !== CACHE_NAME).map((name) => caches.delete(name)))
      )
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") {
    return;
  }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (request.mode === "navigate") {
    // Pages come from the network; only when it is down does the offline page stand in.
    event.respondWith(
      fetch(request).catch(() =>
        caches.open(CACHE_NAME).then((cache) => cache.match(OFFLINE_URL)).then((page) => page || Response.error())
      )
    );
    return;
  }
  if (SHELL.includes(url.pathname + url.search)) {
    event.respondWith(caches.open(CACHE_NAME).then((cache) => cache.match(request)).then((kept) => kept || fetch(request)));
  }
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
      icon: "/icons/icon-192.png",
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
