// A button with data-print opens the browser's print dialog (the CSP blocks an
// inline onclick="window.print()").
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
