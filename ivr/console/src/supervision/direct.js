// Live view of the 3230 console: every 2 seconds, fetch the live fragment of the page
// (/supervision/direct, same session cookie) and swap it in. Served by the console itself
// (CSP default-src 'self'); without JavaScript the page has a reload link instead.
(function () {
  "use strict";
  var box = document.getElementById("direct");
  if (!box || !window.fetch) {
    return;
  }
  var source = box.getAttribute("data-source");
  var busy = false;
  var notice = document.createElement("p");
  notice.setAttribute("role", "status");
  notice.className = "notice";
  notice.hidden = true;
  box.parentNode.insertBefore(notice, box);

  function refresh() {
    if (busy) {
      return;
    }
    busy = true;
    fetch(source, { credentials: "same-origin", cache: "no-store", redirect: "follow" })
      .then(function (r) {
        // An expired session is sent to the login page: reload to follow it there.
        if (r.redirected || r.status === 401) {
          window.location.reload();
          return null;
        }
        if (!r.ok) {
          throw new Error("HTTP " + r.status);
        }
        return r.text();
      })
      .then(function (html) {
        if (html !== null) {
          box.innerHTML = html;
          box.setAttribute("data-refreshed", String(Date.now()));
          notice.textContent = "";
          notice.hidden = true;
        }
      })
      .catch(function () {
        notice.textContent = "Mise à jour impossible pour le moment ; nouvel essai dans 2 secondes.";
        notice.hidden = false;
      })
      .then(function () {
        busy = false;
      });
  }

  window.setInterval(refresh, 2000);
})();
