/* The install card's print button (/esims/<id>/card): shown once this script runs (the card
 * sends a CSP without inline script), and the print dialog opens by itself when the card was
 * opened as /esims/<id>/card#print (the install page's "Print install card"). */
(() => {
  const button = document.getElementById("print-card");
  if (!button) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", () => window.print());
  if (window.location.hash === "#print") {
    window.print();
  }
})();
