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
