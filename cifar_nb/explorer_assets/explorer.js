// The cifar_nb explorer: a trained Keras CNN run in plain JavaScript, no runtime library and no server-side code.
// model.json holds the layers and weights (written by cifar_nb.explorer.export_web), page.json the test images
// of the gallery and the playground's kernels (written by cifar_nb.explorer.build_explorer).
// Every layer keeps Keras's own layout: images are height × width × channels, row by row, channels last; a Conv2D
// kernel is (kh, kw, C_in, C_out) and a Dense kernel (inputs, units), both flattened in C order.
(function () {
  "use strict";

  // ---------------------------------------------------------------- the format
  function decodeArray(a) {
    // base64 of little-endian float32: read with a DataView, so a big-endian machine reads the same numbers
    const bin = atob(a.data), n = bin.length / 4, bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const view = new DataView(bytes.buffer), out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
    const size = a.shape.reduce((p, d) => p * d, 1);
    if (size !== n) throw new Error(`weights of shape ${a.shape} should hold ${size} numbers, found ${n}`);
    return out;
  }

  function decodeBytes(b64) {
    const bin = atob(b64), out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  // ---------------------------------------------------------------- the layers
  // Each sum is kept in double precision and rounded to float32 once per output value (Keras rounds after every
  // float32 multiply-add, in an order of its own): the two agree to about 1e-6 of the values involved.

  const ACTIVATIONS = {
    linear: null,
    relu: (v) => (v > 0 ? v : 0),
    sigmoid: (v) => 1 / (1 + Math.exp(-v)),
    tanh: Math.tanh,
    softmax: "softmax", // over the last axis: applied to a whole vector, below
  };

  function activate(t, name) {
    if (!(name in ACTIVATIONS)) throw new Error(`activation ${name} is not supported`);
    const f = ACTIVATIONS[name], d = t.data;
    if (f === null) return t;
    if (f === "softmax") {
      const c = t.shape[t.shape.length - 1];
      for (let s = 0; s < d.length; s += c) {
        let m = -Infinity, z = 0;
        for (let k = 0; k < c; k++) m = Math.max(m, d[s + k]);
        const e = new Float64Array(c);
        for (let k = 0; k < c; k++) { e[k] = Math.exp(d[s + k] - m); z += e[k]; }
        for (let k = 0; k < c; k++) d[s + k] = e[k] / z;
      }
      return t;
    }
    for (let i = 0; i < d.length; i++) d[i] = f(d[i]);
    return t;
  }

  // Keras's 'same' padding: ceil(n / stride) outputs; the zeros before are half the total, rounded down
  function window1d(n, k, stride, padding) {
    if (padding === "same") {
      const out = Math.ceil(n / stride);
      return { out, before: Math.floor(Math.max((out - 1) * stride + k - n, 0) / 2) };
    }
    return { out: Math.floor((n - k) / stride) + 1, before: 0 };
  }

  function conv2d(x, L) {
    const [H, W, C] = x.shape, cfg = L.config, [kh, kw] = cfg.kernel_size, [sh, sw] = cfg.strides;
    const F = cfg.filters, K = L.w.kernel, b = L.w.bias, xd = x.data;
    const r = window1d(H, kh, sh, cfg.padding), c = window1d(W, kw, sw, cfg.padding);
    const out = new Float32Array(r.out * c.out * F), acc = new Float64Array(F);
    for (let i = 0; i < r.out; i++) {
      for (let j = 0; j < c.out; j++) {
        acc.fill(0);
        for (let di = 0; di < kh; di++) {
          const y = i * sh + di - r.before;
          if (y < 0 || y >= H) continue; // zero padding adds nothing
          for (let dj = 0; dj < kw; dj++) {
            const xx = j * sw + dj - c.before;
            if (xx < 0 || xx >= W) continue;
            const xo = (y * W + xx) * C, ko = (di * kw + dj) * C * F;
            for (let ch = 0; ch < C; ch++) {
              const v = xd[xo + ch];
              if (v === 0) continue; // after a ReLU most inputs are 0
              const kr = ko + ch * F;
              for (let f = 0; f < F; f++) acc[f] += v * K[kr + f];
            }
          }
        }
        const o = (i * c.out + j) * F;
        for (let f = 0; f < F; f++) out[o + f] = b ? Math.fround(acc[f]) + b[f] : acc[f];
      }
    }
    return activate({ shape: [r.out, c.out, F], data: out }, cfg.activation);
  }

  function maxPool2d(x, L) {
    const [H, W, C] = x.shape, cfg = L.config, [ph, pw] = cfg.pool_size, [sh, sw] = cfg.strides, xd = x.data;
    const r = window1d(H, ph, sh, cfg.padding), c = window1d(W, pw, sw, cfg.padding);
    const out = new Float32Array(r.out * c.out * C).fill(-Infinity);
    for (let i = 0; i < r.out; i++) {
      for (let j = 0; j < c.out; j++) {
        const o = (i * c.out + j) * C;
        for (let di = 0; di < ph; di++) {
          const y = i * sh + di - r.before;
          if (y < 0 || y >= H) continue; // 'same' pooling ignores the padding
          for (let dj = 0; dj < pw; dj++) {
            const xx = j * sw + dj - c.before;
            if (xx < 0 || xx >= W) continue;
            const xo = (y * W + xx) * C;
            for (let ch = 0; ch < C; ch++) if (xd[xo + ch] > out[o + ch]) out[o + ch] = xd[xo + ch];
          }
        }
      }
    }
    return { shape: [r.out, c.out, C], data: out };
  }

  function dense(x, L) {
    const n = x.data.length, U = L.config.units, K = L.w.kernel, b = L.w.bias, xd = x.data;
    const acc = new Float64Array(U);
    for (let i = 0; i < n; i++) {
      const v = xd[i];
      if (v === 0) continue;
      const o = i * U;
      for (let u = 0; u < U; u++) acc[u] += v * K[o + u];
    }
    const out = new Float32Array(U);
    for (let u = 0; u < U; u++) out[u] = b ? Math.fround(acc[u]) + b[u] : acc[u];
    return activate({ shape: [U], data: out }, L.config.activation);
  }

  function batchNorm(x, L) {
    // inference: (x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta, per channel
    const C = x.shape[x.shape.length - 1], w = L.w, eps = L.config.epsilon, xd = x.data;
    const out = new Float32Array(xd.length);
    for (let ch = 0; ch < C; ch++) {
      const inv = (w.gamma ? w.gamma[ch] : 1) / Math.sqrt(w.moving_variance[ch] + eps);
      const shift = (w.beta ? w.beta[ch] : 0) - w.moving_mean[ch] * inv;
      for (let i = ch; i < xd.length; i += C) out[i] = xd[i] * inv + shift;
    }
    return { shape: x.shape.slice(), data: out };
  }

  function reluLayer(x, L) {
    // Keras's ReLU layer, step by step as Keras computes it: above the threshold, capped at max_value,
    // then the slope below the threshold
    const { max_value: top, negative_slope: slope, threshold: th } = L.config, d = x.data;
    const out = new Float32Array(d.length);
    for (let i = 0; i < d.length; i++) {
      let v = th !== 0 ? (d[i] > th ? d[i] : 0) : Math.max(d[i], 0);
      if (top !== null) v = Math.min(Math.max(v, 0), top);
      if (slope !== 0) v -= slope * Math.max(th - d[i], 0);
      out[i] = v;
    }
    return { shape: x.shape.slice(), data: out };
  }

  const copy = (x) => ({ shape: x.shape.slice(), data: new Float32Array(x.data) });
  const LAYERS = {
    Conv2D: conv2d,
    MaxPooling2D: maxPool2d,
    Dense: dense,
    BatchNormalization: batchNorm,
    ReLU: reluLayer,
    Activation: (x, L) => activate(copy(x), L.config.activation),
    Flatten: (x) => ({ shape: [x.data.length], data: x.data }), // HWC row by row: Keras's order
    Dropout: (x) => x, // dropout only acts while training
  };

  // the model's input: uint8 pixels (H × W × 3, row by row) divided by 255, as cifar_nb.data.scale_images does
  function inputTensor(spec, pixels) {
    const shape = spec.input.shape, n = shape.reduce((p, d) => p * d, 1);
    if (!pixels || pixels.length !== n) {
      throw new Error(`expected ${n} pixel values (${shape.join(" × ")}, row by row, RGB), ` +
                      `got ${pixels ? pixels.length : pixels}`);
    }
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = pixels[i] / spec.input.divide_by;
    return { shape: shape.slice(), data };
  }

  function forward(spec, pixels) {
    let x = inputTensor(spec, pixels);
    const outputs = [];
    for (const L of spec.layers) {
      x = LAYERS[L.type](x, L);
      outputs.push(x);
    }
    return outputs;
  }

  // the playground: one 2-D kernel over an image, zero padding ('same'), stride 1, no bias
  const LUMA = [0.299, 0.587, 0.114];
  function convolve(pixels, kernel, mode = "rgb", size = [32, 32]) {
    const [H, W] = size, k = Array.from(kernel).flat(), n = Math.round(Math.sqrt(k.length)), half = (n - 1) >> 1;
    if (n * n !== k.length || n % 2 === 0) throw new Error(`the kernel must be square and odd-sized, got ${k.length}`);
    if (mode !== "rgb" && mode !== "gray") throw new Error(`mode must be 'rgb' or 'gray', got ${mode}`);
    const planes = [];
    if (mode === "gray") {
      const g = new Float64Array(H * W);
      for (let i = 0; i < H * W; i++) {
        g[i] = (LUMA[0] * pixels[3 * i] + LUMA[1] * pixels[3 * i + 1] + LUMA[2] * pixels[3 * i + 2]) / 255;
      }
      planes.push(g);
    } else {
      for (let ch = 0; ch < 3; ch++) {
        const p = new Float64Array(H * W);
        for (let i = 0; i < H * W; i++) p[i] = pixels[3 * i + ch] / 255;
        planes.push(p);
      }
    }
    const C = planes.length, out = new Float32Array(H * W * C);
    for (let ch = 0; ch < C; ch++) {
      const p = planes[ch];
      for (let i = 0; i < H; i++) {
        for (let j = 0; j < W; j++) {
          let acc = 0;
          for (let di = 0; di < n; di++) {
            const y = i + di - half;
            if (y < 0 || y >= H) continue;
            for (let dj = 0; dj < n; dj++) {
              const xx = j + dj - half;
              if (xx >= 0 && xx < W) acc += p[y * W + xx] * k[di * n + dj];
            }
          }
          out[(i * W + j) * C + ch] = acc;
        }
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- drawing
  const VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142], [31, 158, 137],
                   [53, 183, 121], [110, 206, 88], [181, 222, 43], [253, 231, 37]];
  function viridis(t) {
    const s = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1), i = Math.min(Math.floor(s), VIRIDIS.length - 2);
    const f = s - i, a = VIRIDIS[i], b = VIRIDIS[i + 1];
    return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
  }
  // blue below 0, white at 0, red above: for weights and signed outputs
  function diverging(t) {
    const v = Math.min(Math.max(t, -1), 1);
    return v >= 0 ? [255, 255 * (1 - v) + 40 * v, 255 * (1 - v) + 40 * v]
                  : [255 * (1 + v) + 40 * -v, 255 * (1 + v) + 90 * -v, 255];
  }

  function canvas(w, h, cls) {
    const c = document.createElement("canvas");
    c.width = w; c.height = h;
    if (cls) c.className = cls;
    return c;
  }

  function drawRGB(cv, pixels, w, h) {
    const ctx = cv.getContext("2d"), im = ctx.createImageData(w, h);
    for (let i = 0; i < w * h; i++) {
      im.data[4 * i] = pixels[3 * i]; im.data[4 * i + 1] = pixels[3 * i + 1];
      im.data[4 * i + 2] = pixels[3 * i + 2]; im.data[4 * i + 3] = 255;
    }
    ctx.putImageData(im, 0, 0);
  }

  // one channel of an H × W × C tensor, coloured by `colour(value)`
  function drawChannel(cv, t, ch, colour) {
    const [h, w, C] = t.shape, ctx = cv.getContext("2d"), im = ctx.createImageData(w, h);
    for (let i = 0; i < w * h; i++) {
      const [r, g, b] = colour(t.data[i * C + ch]);
      im.data[4 * i] = r; im.data[4 * i + 1] = g; im.data[4 * i + 2] = b; im.data[4 * i + 3] = 255;
    }
    ctx.putImageData(im, 0, 0);
  }

  function range(d) {
    let lo = Infinity, hi = -Infinity;
    for (const v of d) { if (v < lo) lo = v; if (v > hi) hi = v; }
    return [lo, hi];
  }

  const el = (tag, attrs = {}, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k);
    return e;
  };
  const pct = (p) => `${(100 * p).toFixed(1)}%`;
  const fmt = (v) => (Math.abs(v) >= 0.01 || v === 0 ? v.toFixed(3) : v.toExponential(1));

  // ---------------------------------------------------------------- the page
  const state = { spec: null, page: null, pixels: null, label: null, title: "", outputs: null, selected: null };

  function describeLayer(L, shape) {
    const c = L.config, s = shape.join("×");
    const act = c.activation && c.activation !== "linear" ? `, ${c.activation}` : "";
    switch (L.type) {
      case "Conv2D":
        return `${L.type}: ${c.filters} filters ${c.kernel_size.join("×")}, stride ${c.strides.join("×")}, ` +
               `padding ${c.padding}${act} → ${s}`;
      case "MaxPooling2D": return `${L.type}: the maximum of each ${c.pool_size.join("×")} window → ${s}`;
      case "Dense": return `${L.type}: ${c.units} units${act} → ${s}`;
      case "Flatten": return `${L.type}: the maps above as one vector, row by row → ${s}`;
      case "Dropout": return `${L.type} (rate ${c.rate}): does nothing once trained → ${s}`;
      case "BatchNormalization": return `${L.type}: a scale and shift per channel → ${s}`;
      default: return `${L.type}${act} → ${s}`;
    }
  }

  function showInfo(spec, gallery) {
    // built from elements, not HTML strings: names come from files
    const i = spec.info || {}, acc = i.test_accuracy, box = document.getElementById("run-info");
    const parts = [["model ", el("b", { text: spec.model })]];
    if (i.run) parts.push(["run ", el("b", { text: i.run })]);
    if (i.epochs) {
      parts.push([`${i.epochs} epoch${i.epochs === 1 ? "" : "s"}` + (i.recipe ? ` (${i.recipe} recipe)` : "")]);
    }
    if (acc == null) parts.push(["test accuracy not recorded"]);
    else {
      const on = i.test_images ? ` on ${i.test_images.toLocaleString("en")} test images` : "";
      parts.push(["test accuracy ", el("b", { text: pct(acc), id: "accuracy" }),
                  on + (i.accuracy_note ? ` (${i.accuracy_note})` : "")]);
    }
    if (i.data) parts.push([`trained on ${i.data}`]);
    box.replaceChildren();
    parts.forEach((p, n) => box.append(...(n ? [" · "] : []), ...p));
    box.append(el("br"), `Gallery: the first ${gallery.per_class} test images of each class, from ${gallery.source}.`);
  }

  function buildGallery(gallery, names) {
    const box = document.getElementById("gallery"), groups = {};
    gallery.images.forEach((g, n) => {
      if (!(g.label in groups)) {
        groups[g.label] = el("div", { class: "thumbs" });
        box.append(el("figure", { class: "class-group" }, groups[g.label], el("figcaption", { text: names[g.label] })));
      }
      g.pixels = decodeBytes(g.pixels);
      const cv = canvas(32, 32, "thumb");
      drawRGB(cv, g.pixels, 32, 32);
      cv.title = `${names[g.label]}: test image ${g.index}`;
      cv.dataset.index = n;
      cv.tabIndex = 0;
        const pick = () => {
        document.getElementById("photo-msg").textContent = "";
        select(g.pixels, g.label, `test image ${g.index} (${names[g.label]})`, cv);
      };
      cv.addEventListener("click", pick);
      cv.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") pick(); });
      groups[g.label].append(cv);
    });
  }

  function select(pixels, label, title, thumb) {
    state.pixels = pixels; state.label = label; state.title = title;
    document.querySelectorAll("#gallery .thumb.active").forEach((t) => t.classList.remove("active"));
    if (thumb) thumb.classList.add("active");
    drawRGB(document.getElementById("chosen"), pixels, 32, 32);
    document.getElementById("chosen-title").textContent = title;
    predictAndShow();
    updatePlayground();
  }

  function predictAndShow() {
    const spec = state.spec, names = spec.class_names;
    const t0 = performance.now();
    state.outputs = forward(spec, state.pixels);
    const ms = performance.now() - t0, probs = state.outputs[state.outputs.length - 1].data;
    const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]).slice(0, 3);
    const box = document.getElementById("top3");
    box.replaceChildren();
    for (const k of order) {
      const bar = el("div", { class: "bar" });
      bar.style.width = pct(probs[k]);
      const truth = state.label === k ? " ✓" : "";
      box.append(el("div", { class: "top3-row" + (state.label === k ? " truth" : ""), "data-class": names[k] },
                    el("span", { class: "name", text: names[k] + truth }),
                    el("span", { class: "track" }, bar),
                    el("span", { class: "prob", text: pct(probs[k]) })));
    }
    const truthLine = state.label == null ? "" : ` The true class is ${names[state.label]}.`;
    document.getElementById("timing").textContent =
      `Forward pass: ${ms.toFixed(1)} ms in your browser.${truthLine}`;
    showLayers();
  }

  function showLayers() {
    const spec = state.spec, box = document.getElementById("layers");
    box.replaceChildren();
    const input = { shape: spec.input.shape, data: Float32Array.from(state.pixels, (v) => v / 255) };
    const rows = [{ name: "input", text: `the image, 0–1: red, green and blue → ${input.shape.join("×")}`,
                    t: input, L: null }];
    spec.layers.forEach((L, i) => rows.push({ name: L.name, text: describeLayer(L, state.outputs[i].shape),
                                              t: state.outputs[i], L, i }));
    for (const row of rows) {
      const maps = el("div", { class: "maps" });
      const section = el("section", { class: "layer", "data-layer": row.name },
                         el("h4", {}, el("code", { text: row.name }), " — " + row.text), maps);
      const t = row.t;
      if (row.L && row.L.type === "Flatten") {
        maps.append(el("p", { class: "note", text: `${t.data.length.toLocaleString("en")} numbers: ` +
                                                   "every value of the maps above, in one row." }));
      } else if (t.shape.length === 3) {
        // one colour scale per layer, so that the maps of a layer can be compared, or one per map, to see each
        const perMap = document.getElementById("map-scale").value === "map";
        const [lo, hi] = range(t.data), span = hi - lo || 1;
        const scale = t.shape[0] >= 24 ? 2 : t.shape[0] >= 12 ? 4 : 8;
        for (let ch = 0; ch < t.shape[2]; ch++) {
          const cv = canvas(t.shape[1], t.shape[0], "map");
          cv.style.width = `${t.shape[1] * scale}px`; cv.style.height = `${t.shape[0] * scale}px`;
          let colour = (v) => viridis((v - lo) / span);
          if (perMap) {
            const [a, b] = range(t.data.filter((_, i) => i % t.shape[2] === ch));
            colour = (v) => viridis((v - a) / (b - a || 1));
          }
          drawChannel(cv, t, ch, colour);
          cv.title = `${row.name}, map ${ch}: values ${fmt(lo)} … ${fmt(hi)} in this layer`;
          cv.dataset.channel = ch;
          cv.addEventListener("click", () => showMap(row, ch, section, cv));
          maps.append(cv);
        }
        const legend = perMap ? "dark = the lowest, bright = the highest value of each map"
                              : `dark = ${fmt(lo)}, bright = ${fmt(hi)} (this layer's range)`;
        maps.append(el("p", { class: "note", text: legend }));
      } else {
        const [lo, hi] = range(t.data), span = hi - lo || 1;
        const cv = canvas(t.data.length, 1, "vector");
        drawChannel(cv, { shape: [1, t.data.length, 1], data: t.data }, 0, (v) => viridis((v - lo) / span));
        cv.style.width = `${Math.min(t.data.length * 6, 768)}px`;
        cv.title = `${t.data.length} values, ${fmt(lo)} … ${fmt(hi)}`;
        maps.append(cv);
      }
      box.append(section);
    }
    state.selected = null;
  }

  // what made one map: a Conv2D filter's weights and bias, or the map a pooling/activation layer took it from
  function showMap(row, ch, section, cv) {
    document.querySelectorAll(".map.active").forEach((m) => m.classList.remove("active"));
    cv.classList.add("active");
    let panel = document.getElementById("kernel-view");
    if (!panel) panel = el("div", { id: "kernel-view" });
    panel.replaceChildren();
    section.after(panel);
    state.selected = { layer: row.name, channel: ch };
    const L = row.L, spec = state.spec;
    const prev = row.i > 0 ? spec.layers[row.i - 1].name : "the input";
    const big = canvas(cv.width, cv.height, "big");
    big.getContext("2d").drawImage(cv, 0, 0);
    big.style.width = `${Math.max(96, cv.width * 4)}px`;
    panel.append(el("h4", { text: `${row.name}, map ${ch}` }), big);
    if (!L) {
      panel.append(el("p", { text: `The ${["red", "green", "blue"][ch]} channel of the image, divided by 255.` }));
    } else if (L.type === "Conv2D") {
      const [kh, kw, C, F] = L.weights.kernel.shape, K = L.w.kernel;
      let top = 0;
      for (let i = 0; i < kh * kw * C; i++) top = Math.max(top, Math.abs(K[i * F + ch]));
      const bias = L.w.bias ? L.w.bias[ch] : 0;
      const act = L.config.activation !== "linear" ? `, then ${L.config.activation}` : "";
      panel.append(el("p", { text: `Made by filter ${ch} of ${row.name}: ${kh}×${kw}×${C} weights ` +
                                   `(one ${kh}×${kw} grid per input map of ${prev}), summed over each window, ` +
                                   "plus the bias " +
                                   `${fmt(bias)}${act}. Red = positive, blue = negative, white = 0; ` +
                                   `the strongest weight is ${fmt(top)}.` }));
      const grid = el("div", { class: "kernel-grid" });
      for (let c = 0; c < C; c++) {
        const kc = canvas(kw, kh, "weights");
        const t = { shape: [kh, kw, 1], data: new Float32Array(kh * kw) };
        for (let i = 0; i < kh * kw; i++) t.data[i] = K[(i * C + c) * F + ch];
        drawChannel(kc, t, 0, (v) => diverging(v / (top || 1)));
        kc.title = Array.from(t.data, fmt).join(" ");
        const label = row.i === 0 && C === 3 ? ["R", "G", "B"][c] : `${c}`;
        grid.append(el("figure", {}, kc, el("figcaption", { text: label })));
      }
      panel.append(grid, el("p", { class: "bias", text: `bias: ${fmt(bias)}` }));
    } else if (L.type === "MaxPooling2D") {
      panel.append(el("p", { text: `Max pooling has no weights: each value is the largest of a ` +
                                   `${L.config.pool_size.join("×")} window of map ${ch} of ${prev}.` }));
    } else if (L.type === "BatchNormalization") {
      const w = L.w, g = w.gamma ? w.gamma[ch] : 1, b = w.beta ? w.beta[ch] : 0;
      panel.append(el("p", { text: `Map ${ch} of ${prev}, minus ${fmt(w.moving_mean[ch])}, divided by ` +
                                   `${fmt(Math.sqrt(w.moving_variance[ch] + L.config.epsilon))}, ` +
                                   `times ${fmt(g)}, plus ${fmt(b)}.` }));
    } else {
      panel.append(el("p", { text: `Map ${ch} of ${prev}, passed through ${L.type}.` }));
    }
  }

  // ---------------------------------------------------------------- the kernel playground
  function kernelInputs() { return Array.from(document.querySelectorAll("#kernel input")); }
  function currentKernel() { return kernelInputs().map((i) => parseFloat(i.value) || 0); }

  function setKernel(name) {
    const k = state.page.kernels[name].flat();
    kernelInputs().forEach((inp, i) => { inp.value = +k[i].toFixed(4); });
    // as in the Widgets lesson: kernels whose weights add up to 0 (edges) act on the brightness
    document.getElementById("conv-mode").value = Math.abs(k.reduce((a, b) => a + b, 0)) < 1e-6 ? "gray" : "rgb";
    updatePlayground();
  }

  function updatePlayground() {
    if (!state.pixels) return;
    const k = currentKernel(), mode = document.getElementById("conv-mode").value;
    const out = convolve(state.pixels, k, mode), cv = document.getElementById("conv-out");
    drawRGB(document.getElementById("conv-in"), state.pixels, 32, 32);
    const t = { shape: [32, 32, mode === "gray" ? 1 : 3], data: out };
    const ctx = cv.getContext("2d"), im = ctx.createImageData(32, 32);
    // colour scale: the strongest value away from the border, where the zero padding makes edges of its own that
    // would wash out the rest; the border's stronger values get the strongest colour
    let top = 0;
    if (mode === "gray") {
      for (let i = 1; i < 31; i++) for (let j = 1; j < 31; j++) top = Math.max(top, Math.abs(out[i * 32 + j]));
    }
    for (let i = 0; i < 32 * 32; i++) {
      const rgb = mode === "gray" ? diverging(out[i] / (top || 1))
        : [0, 1, 2].map((c) => 255 * Math.min(Math.max(t.data[3 * i + c], 0), 1));
      im.data[4 * i] = rgb[0]; im.data[4 * i + 1] = rgb[1]; im.data[4 * i + 2] = rgb[2]; im.data[4 * i + 3] = 255;
    }
    ctx.putImageData(im, 0, 0);
    const sum = k.reduce((a, b) => a + b, 0);
    const [lo, hi] = range(out);
    document.getElementById("conv-note").textContent = mode === "gray"
      ? `Brightness (0.299 R + 0.587 G + 0.114 B), filtered: red > 0, blue < 0, white = 0, full colour from ` +
        `±${fmt(top)}, the strongest value inside the border (values ${fmt(lo)} … ${fmt(hi)}). ` +
        `The weights add up to ${fmt(sum)}.`
      : `Each of red, green and blue filtered on its own, shown clipped to 0–1 ` +
        `(values ${fmt(lo)} … ${fmt(hi)}). The weights add up to ${fmt(sum)}.`;
  }

  function buildPlayground(kernels) {
    const grid = document.getElementById("kernel");
    for (let i = 0; i < 9; i++) {
      const inp = el("input", { type: "number", step: "0.1",
                                "aria-label": `weight in row ${Math.floor(i / 3) + 1}, column ${i % 3 + 1}` });
      inp.addEventListener("input", updatePlayground);
      grid.append(inp);
    }
    const presets = document.getElementById("presets");
    for (const name of Object.keys(kernels)) {
      const b = el("button", { type: "button", "data-kernel": name, text: name });
      b.addEventListener("click", () => setKernel(name));
      presets.append(b);
    }
    document.getElementById("conv-mode").addEventListener("change", updatePlayground);
    setKernel("edge" in kernels ? "edge" : Object.keys(kernels)[0]);
  }

  // ---------------------------------------------------------------- your own photo
  // The centre square, shrunk to 32×32 by the browser; `cifar_nb predict` crops the same square but shrinks it with
  // Pillow's Lanczos filter, so the pixels (and the probabilities) can differ a little.
  function photoPixels(img) {
    const side = Math.min(img.width, img.height), cv = canvas(32, 32), ctx = cv.getContext("2d");
    ctx.fillStyle = "#fff"; // transparent pixels become white, as cifar_nb's image reader makes them
    ctx.fillRect(0, 0, 32, 32);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(img, (img.width - side) / 2, (img.height - side) / 2, side, side, 0, 0, 32, 32);
    const rgba = ctx.getImageData(0, 0, 32, 32).data, px = new Uint8Array(32 * 32 * 3);
    for (let i = 0; i < 32 * 32; i++) for (let c = 0; c < 3; c++) px[3 * i + c] = rgba[4 * i + c];
    return px;
  }

  async function usePhoto(file) {
    const msg = document.getElementById("photo-msg");
    if (!file || !file.type.startsWith("image/")) {
      msg.textContent = `${file ? file.name : "That"} is not an image: choose a JPEG, PNG, GIF or WebP file.`;
      return;
    }
    try {
      const img = await createImageBitmap(file);
      select(photoPixels(img), null, `your photo: ${file.name}`, null);
      msg.textContent = `${file.name}: ${img.width}×${img.height}, centre square shrunk to 32×32.`;
    } catch (e) {
      msg.textContent = `Could not read ${file.name} as an image (${e.message}).`;
    }
  }

  function buildPhotoInput() {
    const input = document.getElementById("photo"), drop = document.getElementById("drop");
    input.addEventListener("change", () => usePhoto(input.files[0]));
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault(); drop.classList.remove("over");
      usePhoto(e.dataTransfer.files[0]);
    });
  }

  // ---------------------------------------------------------------- start
  // check the layers and decode their weights once, into L.w
  function prepare(spec) {
    for (const L of spec.layers) {
      if (!(L.type in LAYERS)) throw new Error(`layer ${L.name}: type ${L.type} is not supported by this page`);
      L.w = {};
      for (const [k, a] of Object.entries(L.weights || {})) L.w[k] = decodeArray(a);
    }
    return spec;
  }

  async function load(url) {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return r.json();
  }

  async function start() {
    let spec, page;
    try {
      [spec, page] = await Promise.all([load("model.json"), load("page.json")]);
    } catch (e) {
      const box = document.getElementById("status");
      box.textContent = `Could not load the model (${e.message}). The page reads model.json and page.json from ` +
        "its own folder, which a browser allows only over HTTP: serve the folder, e.g. with python -m http.server " +
        "-d _docs, and open http://localhost:8000/explorer/.";
      box.classList.add("error");
      throw e;
    }
    prepare(spec);
    state.spec = spec; state.page = page;
    document.getElementById("status").remove();
    if (page.home) {
      const back = document.getElementById("home");
      back.href = page.home; back.hidden = false;
    }
    showInfo(spec, page.gallery);
    buildGallery(page.gallery, spec.class_names);
    buildPlayground(page.kernels);
    buildPhotoInput();
    document.getElementById("map-scale").addEventListener("change", () => { if (state.outputs) showLayers(); });
    const first = document.querySelector("#gallery .thumb");
    first.click();
  }

  const ready = start();
  ready.catch(() => {}); // the page says what went wrong; `ready` still rejects for whoever waits on it
  window.cifarNb = {
    ready,
    get model() { return state.spec; },
    get classNames() { return state.spec.class_names; },
    // probabilities (one per class) for uint8 pixels 32 × 32 × 3, row by row, RGB; `model`: the page's by default
    predict: (pixels, model = state.spec) => Array.from(forward(model, pixels).at(-1).data),
    // every layer's output: [{shape, data}], in the order of model.json's layers
    forward: (pixels, model = state.spec) =>
      forward(model, pixels).map((t) => ({ shape: t.shape, data: Array.from(t.data) })),
    // another model file written by export_web, ready for predict and forward
    loadModel: async (url) => prepare(await load(url)),
    // a 3×3 (or any odd n×n) kernel over 32 × 32 × 3 pixels: 'rgb' per channel (H×W×3) or 'gray' (H×W×1)
    convolve: (pixels, kernel, mode = "rgb") => Array.from(convolve(pixels, kernel, mode)),
    // click the n-th image of the gallery
    select: (n) => document.querySelectorAll("#gallery .thumb")[n].click(),
    // the image on show: its pixels, title and the probabilities the page shows for it
    current: () => ({ pixels: Array.from(state.pixels), title: state.title,
                      probabilities: Array.from(state.outputs.at(-1).data) }),
  };
})();
