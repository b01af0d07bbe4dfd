// Test-only (tests/test_docs_browser.py adds it to a build of the guide): once Mermaid has had its chance, record
// what the browser laid out on the <body>, where `chromium --dump-dom` shows it.
(function () {
  "use strict";
  var started = Date.now();
  function pending() {
    // Material swaps each <pre class="mermaid"> for a <div class="mermaid"> holding the rendered SVG.
    return document.querySelectorAll("pre.mermaid").length > 0;
  }
  function record() {
    var diagrams = Array.prototype.slice.call(document.querySelectorAll("div.mermaid"));
    var wide = Array.prototype.slice.call(document.querySelectorAll("body *")).filter(function (el) {
      var box = el.getBoundingClientRect();
      return box.width > 0 && box.right > window.innerWidth + 1 && !el.closest(".md-typeset__table, pre, .md-sidebar, .md-search");
    });
    document.body.setAttribute("data-layout", JSON.stringify({
      viewport: window.innerWidth,
      scrollWidth: document.documentElement.scrollWidth,
      diagrams: diagrams.length,
      rendered: diagrams.filter(function (div) { var box = div.getBoundingClientRect(); return box.height > 10 && box.width > 10; }).length,
      unrendered: document.querySelectorAll("pre.mermaid, pre > code.language-mermaid").length,
      overflowing: wide.slice(0, 5).map(function (el) { return el.tagName + "." + el.className; })
    }));
  }
  (function wait() {
    if (pending() && Date.now() - started < 20000) {
      setTimeout(wait, 100);
    } else {
      setTimeout(record, 300);
    }
  })();
})();
