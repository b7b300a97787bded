// ewoda: small progressive enhancements; every page works without this file.
// Buttons with data-copy copy the text of the element they name (e.g. the account number).
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button || !navigator.clipboard) return;
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (source) navigator.clipboard.writeText(source.textContent.trim());
});

// ebok: money — copy buttons are hidden until this script can make them work, and say so.
document.querySelectorAll("[data-copy]").forEach(function (button) {
  if (!navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    var status = button.parentElement.querySelector(".copied");
    if (status) status.textContent = button.getAttribute("data-copied") || "✓";
  });
});

// ebok: Web Push on the profile page. Without this script (or without PushManager) the page
// says push needs JavaScript; with it, the buttons subscribe this browser (the subscription
// goes to POST /ebok/push/subscribe) or unsubscribe it.
(function () {
  var section = document.getElementById("push");
  if (!section) return;
  var status = document.getElementById("push-status");
  var on = document.getElementById("push-subscribe");
  var off = document.getElementById("push-unsubscribe");
  var key = section.getAttribute("data-vapid-key");
  var tokenInput = document.querySelector("input[name=csrf]");
  var say = function (what) { status.textContent = section.getAttribute("data-push-" + what) || ""; };
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !key || !tokenInput) {
    say("unsupported");
    return;
  }
  section.querySelector("[data-push-nojs]").hidden = true;

  function keyBytes(b64) {
    var s = (b64 + "===".slice((b64.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(s), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function post(path, fields) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": tokenInput.value, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    }).then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); });
  }
  function show(subscription) {
    on.hidden = !!subscription;
    off.hidden = !subscription;
    say(subscription ? "on" : "none");
  }

  navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function () {
    return navigator.serviceWorker.ready;
  }).then(function (reg) {
    reg.pushManager.getSubscription().then(show);
    on.addEventListener("click", function () {
      reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) })
        .then(function (sub) {
          var json = sub.toJSON();
          return post("/ebok/push/subscribe", { endpoint: json.endpoint, p256dh: json.keys.p256dh, auth: json.keys.auth })
            .then(function () { show(sub); });
        })
        .catch(function () { say(Notification.permission === "denied" ? "denied" : "failed"); });
    });
    off.addEventListener("click", function () {
      reg.pushManager.getSubscription().then(function (sub) {
        if (!sub) return show(null);
        return post("/ebok/push/unsubscribe", { endpoint: sub.endpoint })
          .then(function () { return sub.unsubscribe(); })
          .then(function () { show(null); });
      }).catch(function () { say("failed"); });
    });
  }).catch(function () { say("failed"); });
})();
