"""Browser side of :class:`~.compare.CompareView`: an anywidget ES module and its CSS.

Kept as Python strings so they ship inside the package without package-data rules. The front
end does no image processing: it shows two PNGs the kernel sends, stretched to one box with
nearest-neighbour rendering, clips the "after" layer at the divider, and reports the divider
and a zoom selection back to the kernel, which sends new crops.
"""

ESM = r"""
const HINT = "drag: move divider · ←/→: nudge · shift-drag: zoom to a region · double-click: whole image";

function clamp01(value) {
  return Math.min(1, Math.max(0, value));
}

function render({ model, el }) {
  el.classList.add("rk-compare");

  const box = document.createElement("div");
  box.className = "rk-compare-box";
  box.tabIndex = 0;
  box.setAttribute("role", "slider");
  box.setAttribute("aria-label", "before/after divider");
  box.setAttribute("aria-valuemin", "0");
  box.setAttribute("aria-valuemax", "100");

  const beforeImg = document.createElement("img");
  beforeImg.className = "rk-compare-before";
  beforeImg.alt = "before";
  const afterLayer = document.createElement("div");
  afterLayer.className = "rk-compare-after-layer";
  const afterImg = document.createElement("img");
  afterImg.className = "rk-compare-after";
  afterImg.alt = "after";
  afterLayer.appendChild(afterImg);

  const line = document.createElement("div");
  line.className = "rk-compare-divider";
  const handle = document.createElement("div");
  handle.className = "rk-compare-handle";
  line.appendChild(handle);

  const beforeLabel = document.createElement("span");
  beforeLabel.className = "rk-compare-label rk-before";
  const afterLabel = document.createElement("span");
  afterLabel.className = "rk-compare-label rk-after";
  const selection = document.createElement("div");
  selection.className = "rk-compare-selection";
  const empty = document.createElement("div");
  empty.className = "rk-compare-empty";
  empty.textContent = "no image yet";

  box.append(beforeImg, afterLayer, line, beforeLabel, afterLabel, selection, empty);
  const caption = document.createElement("div");
  caption.className = "rk-compare-caption";
  const hint = document.createElement("div");
  hint.className = "rk-compare-hint";
  hint.textContent = HINT;
  el.append(box, caption, hint);

  const urls = { before: null, after: null };
  function showImage(img, name) {
    const value = model.get(name);
    if (urls[name]) URL.revokeObjectURL(urls[name]);
    urls[name] = null;
    const size = value ? value.byteLength : 0;
    if (size > 0) {
      urls[name] = URL.createObjectURL(new Blob([value], { type: "image/png" }));
      img.src = urls[name];
      img.style.visibility = "visible";
    } else {
      img.removeAttribute("src");
      img.style.visibility = "hidden";
    }
    el.dataset[name === "before" ? "hasBefore" : "hasAfter"] = size > 0 ? "1" : "0";
    const any = el.dataset.hasBefore === "1" || el.dataset.hasAfter === "1";
    empty.style.display = any ? "none" : "flex";
    if (size > 0) {
      img.decode().then(
        () => { el.dataset[name === "before" ? "beforeLoaded" : "afterLoaded"] = String(size); },
        () => {},
      );
    }
  }

  function showDivider(fraction) {
    const percent = (fraction * 100).toFixed(2);
    afterLayer.style.clipPath = `inset(0 0 0 ${percent}%)`;
    line.style.left = `${percent}%`;
    el.dataset.divider = fraction.toFixed(4);
    box.setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
  }

  function showLabels() {
    beforeLabel.textContent = model.get("before_label");
    afterLabel.textContent = model.get("after_label");
    afterLabel.style.display = el.dataset.hasAfter === "1" ? "" : "none";
  }

  function showBox() {
    box.style.aspectRatio = String(model.get("aspect"));
    caption.textContent = model.get("caption");
    el.dataset.region = model.get("region").map((v) => v.toFixed(4)).join(",");
  }

  let lastSave = 0;
  function setDivider(fraction, final) {
    fraction = clamp01(fraction);
    showDivider(fraction);
    model.set("divider", fraction);
    const now = performance.now();
    if (final || now - lastSave > 80) {  // throttle the messages sent while dragging
      lastSave = now;
      model.save_changes();
    }
  }

  function pointerFraction(event) {
    const rect = box.getBoundingClientRect();
    return [clamp01((event.clientX - rect.left) / rect.width), clamp01((event.clientY - rect.top) / rect.height)];
  }

  let mode = null;
  let start = null;
  box.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    box.focus();
    box.setPointerCapture(event.pointerId);
    start = pointerFraction(event);
    mode = event.shiftKey ? "select" : "divide";
    if (mode === "divide") setDivider(start[0], false);
  });
  box.addEventListener("pointermove", (event) => {
    if (!mode) return;
    const [x, y] = pointerFraction(event);
    if (mode === "divide") {
      setDivider(x, false);
    } else {
      selection.style.display = "block";
      selection.style.left = `${Math.min(x, start[0]) * 100}%`;
      selection.style.top = `${Math.min(y, start[1]) * 100}%`;
      selection.style.width = `${Math.abs(x - start[0]) * 100}%`;
      selection.style.height = `${Math.abs(y - start[1]) * 100}%`;
    }
  });
  function finish(event) {
    if (!mode) return;
    const [x, y] = pointerFraction(event);
    if (mode === "divide") {
      setDivider(x, true);
    } else {
      selection.style.display = "none";
      const [x0, y0, x1, y1] = [Math.min(x, start[0]), Math.min(y, start[1]), Math.max(x, start[0]), Math.max(y, start[1])];
      if (x1 - x0 > 0.02 && y1 - y0 > 0.02) {
        // The selection is relative to the region on screen; the kernel wants whole-image fractions.
        const [rx0, ry0, rx1, ry1] = model.get("region");
        const w = rx1 - rx0, h = ry1 - ry0;
        model.set("region", [rx0 + x0 * w, ry0 + y0 * h, rx0 + x1 * w, ry0 + y1 * h]);
        model.save_changes();
      }
    }
    mode = null;
  }
  box.addEventListener("pointerup", finish);
  box.addEventListener("pointercancel", finish);
  box.addEventListener("dblclick", () => {
    model.set("region", [0, 0, 1, 1]);
    model.save_changes();
  });
  box.addEventListener("keydown", (event) => {
    const step = event.shiftKey ? 0.01 : 0.05;
    if (event.key === "ArrowLeft") setDivider(model.get("divider") - step, true);
    else if (event.key === "ArrowRight") setDivider(model.get("divider") + step, true);
    else return;
    event.preventDefault();
  });

  const onBefore = () => { showImage(beforeImg, "before"); showLabels(); };
  const onAfter = () => { showImage(afterImg, "after"); showLabels(); };
  const onDivider = () => showDivider(model.get("divider"));
  model.on("change:before", onBefore);
  model.on("change:after", onAfter);
  model.on("change:divider", onDivider);
  model.on("change:before_label", showLabels);
  model.on("change:after_label", showLabels);
  for (const name of ["aspect", "caption", "region"]) model.on(`change:${name}`, showBox);

  onBefore();
  onAfter();
  onDivider();
  showBox();

  return () => {
    model.off("change:before", onBefore);
    model.off("change:after", onAfter);
    model.off("change:divider", onDivider);
    model.off("change:before_label", showLabels);
    model.off("change:after_label", showLabels);
    for (const name of ["aspect", "caption", "region"]) model.off(`change:${name}`, showBox);
    for (const url of Object.values(urls)) if (url) URL.revokeObjectURL(url);
  };
}

export default { render };
"""

CSS = r"""
.rk-compare {
  display: flex;
  flex-direction: column;
  gap: 4px;
  width: 100%;
  font-family: var(--jp-ui-font-family, sans-serif);
  font-size: 12px;
}
.rk-compare-box {
  position: relative;
  width: 100%;
  overflow: hidden;
  cursor: ew-resize;
  user-select: none;
  touch-action: none;
  outline-offset: 2px;
  background: repeating-conic-gradient(#d6d6d6 0% 25%, #ffffff 0% 50%) 50% / 16px 16px;
}
.rk-compare-box img {
  position: absolute;
  inset: 0;
  width: 100%;
  height: 100%;
  image-rendering: pixelated;
  pointer-events: none;
  -webkit-user-drag: none;
}
.rk-compare-after-layer {
  position: absolute;
  inset: 0;
}
.rk-compare-divider {
  position: absolute;
  top: 0;
  bottom: 0;
  width: 2px;
  margin-left: -1px;
  background: #ffffff;
  box-shadow: 0 0 0 1px rgba(0, 0, 0, 0.45);
  pointer-events: none;
}
.rk-compare-handle {
  position: absolute;
  top: 50%;
  left: 50%;
  width: 20px;
  height: 20px;
  margin: -10px 0 0 -10px;
  border-radius: 50%;
  background: #ffffff;
  border: 1px solid #333333;
}
.rk-compare-label {
  position: absolute;
  top: 4px;
  padding: 1px 6px;
  border-radius: 3px;
  background: rgba(0, 0, 0, 0.55);
  color: #ffffff;
  pointer-events: none;
}
.rk-compare-label.rk-before { left: 4px; }
.rk-compare-label.rk-after { right: 4px; }
.rk-compare-selection {
  position: absolute;
  display: none;
  border: 1px dashed #ffffff;
  background: rgba(255, 255, 255, 0.2);
  pointer-events: none;
}
.rk-compare-empty {
  position: absolute;
  inset: 0;
  align-items: center;
  justify-content: center;
  color: #555555;
}
.rk-compare-caption { color: var(--jp-ui-font-color1, #333333); }
.rk-compare-hint { color: var(--jp-ui-font-color2, #777777); }
"""
