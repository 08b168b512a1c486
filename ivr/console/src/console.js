// Console du 3230: the editors' live check. While a topic form is typed, it is sent (with
// its CSRF token) to the form's data-check address a moment after the last key, and the
// checker's verdict replaces the "Vérification" panel. Nothing is saved; without this
// script the form still works (the check runs when it is saved).
"use strict";
(function () {
  const form = document.querySelector("form.editor[data-check]");
  const panel = document.getElementById("verification");
  if (!form || !panel) return;
  let timer = null;
  let seq = 0;
  function check() {
    const mine = ++seq;
    fetch(form.dataset.check, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
    })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        // Only the answer to the latest request is shown.
        if (html !== null && mine === seq) panel.innerHTML = html;
      })
      .catch(function () { /* the save still checks */ });
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 700);
  });
})();
