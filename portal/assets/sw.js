// ewoda service worker (served as /sw.js, scope "/"): shows the Web Push notifications the
// server sends ({"title", "body", "url"}, RFC 8291 encrypted; the browser decrypts them) and
// opens the notification's page on click. No caching: every page stays server-rendered.
"use strict";

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = { body: event.data ? event.data.text() : "" };
  }
  var url = typeof data.url === "string" && data.url.charAt(0) === "/" ? data.url : "/ebok/";
  event.waitUntil(
    self.registration.showNotification(data.title || "eBOK", {
      body: data.body || "",
      icon: "/assets/icon.svg",
      data: { url: url },
    })
  );
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/ebok/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (list) {
      for (var i = 0; i < list.length; i++) {
        if (new URL(list[i].url).pathname === url && "focus" in list[i]) return list[i].focus();
      }
      return self.clients.openWindow(url);
    })
  );
});
