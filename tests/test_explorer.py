"""The explorer page (cifar_nb.explorer), built from a trained run and opened in a real browser (headless Chromium).

The page is built with `build_explorer` from the committed tutorial run in `nbs/explorer/run` (or, where it is
missing, from a small run trained here), served on 127.0.0.1 and driven with Selenium. Its JavaScript forward pass
must give Keras's probabilities, its kernel playground Keras's `Conv2D`, its gallery, feature maps, filter view and
photo input must work, with no console error and no request leaving the local server. Screenshots are saved in
`_docs/_screenshots/explorer*.png`.
"""
import functools
import http.server
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMITTED_RUN = ROOT / "nbs" / "explorer" / "run"
SHOTS = ROOT / "_docs" / "_screenshots"
DATA = os.environ.get("CIFAR_NB_DATA")  # read now: each test runs with CIFAR_NB_DATA removed (conftest.py)
CHROMIUM, CHROMEDRIVER = (shutil.which("chromium") or "/usr/bin/chromium",
                          shutil.which("chromedriver") or "/usr/bin/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1440,900"]
# The page sums in double precision and rounds each output to float32; Keras sums in float32, in another order.
# For the tutorial CNN the two give probabilities within about 1e-6 of each other; 1e-4 leaves room for other CPUs
# and Keras versions, while a wrong weight layout (a transposed kernel, another flatten order) is off by 1e-2 or more.
PROB_TOL = 1e-4
CONV_TOL = 1e-5  # a 3×3 kernel on values in 0-1: nine products, float32 rounding at most a few 1e-7

pytestmark = pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                                reason="Chromium and chromedriver are not installed: "
                                       "apt-get install chromium chromium-driver")


@pytest.fixture(scope="session")
def data():
    """CIFAR-10 from $CIFAR_NB_DATA when set, else random images (enough test images of each class for a gallery)."""
    from cifar_nb.sources import load_cifar10
    from cifar_nb.testing import random_cifar10
    return load_cifar10(DATA) if DATA else random_cifar10(n_train=200, n_test=400, seed=0)


@pytest.fixture(scope="session")
def run_dir(data, tmp_path_factory):
    """The committed tutorial run, or a tutorial CNN trained here for one short epoch."""
    if (COMMITTED_RUN / "model.keras").is_file() and (COMMITTED_RUN / "run.json").is_file(): return COMMITTED_RUN
    from cifar_nb.data import take_subset
    from cifar_nb.models import get_model
    from cifar_nb.training import train
    run = tmp_path_factory.mktemp("explorer-run") / "run"
    train(get_model("baseline", seed=0), take_subset(data, 2000), epochs=1, run_dir=run, verbose=0)
    return run


@pytest.fixture(scope="session")
def model(run_dir):
    from cifar_nb.runs import load_trained
    return load_trained(run_dir)[0]


@pytest.fixture(scope="session")
def site(run_dir, data, tmp_path_factory):
    """The page, built with `build_explorer` into a new folder."""
    from cifar_nb.explorer import build_explorer
    return build_explorer(tmp_path_factory.mktemp("site") / "explorer", run_dir, data)


@pytest.fixture(scope="session")
def base_url(site):
    """The page's folder served over HTTP on 127.0.0.1 at a free port."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):  # a browser that drops a connection is no failure of the page
            if not isinstance(sys.exc_info()[1], ConnectionError): super().handle_error(request, client_address)
    server = Server(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Headless Chromium driven by Selenium, with a new empty profile; it logs the console and all network requests."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for f in FLAGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]: opts.add_argument(f)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def requested_urls(browser) -> list[str]:
    return [m["params"]["request"]["url"]
            for m in map(lambda e: json.loads(e["message"])["message"], browser.get_log("performance"))
            if m["method"] == "Network.requestWillBeSent"]


@pytest.fixture(scope="session")
def page(browser, base_url):
    """The page, loaded and ready (model and gallery read, the first image shown); what the browser saw meanwhile."""
    browser.get_log("browser"), browser.get_log("performance")
    browser.get(base_url)
    status = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.cifarNb.ready.then(() => done('ready'), e => done('failed: ' + e));")
    assert status == "ready", status
    return {"console": browser.get_log("browser"), "requests": requested_urls(browser)}


def outside(urls: list[str], base_url: str) -> list[str]:
    host = urlparse(base_url).netloc
    return [u for u in urls if urlparse(u).scheme in ("http", "https", "ws", "wss") and urlparse(u).netloc != host]


def severe(console: list[dict]) -> list[dict]:
    return [e for e in console if e["level"] == "SEVERE"]


def test_the_page_loads_its_own_files_only_without_errors(page, base_url):
    assert not severe(page["console"]), f"errors in the browser console: {severe(page['console'])}"
    assert not outside(page["requests"], base_url), f"requests outside the page: {outside(page['requests'], base_url)}"
    local = {urlparse(u).path for u in page["requests"]}
    assert {"/", "/explorer.js", "/explorer.css", "/model.json", "/page.json"} <= local, local


def test_the_built_files_name_no_path_of_this_machine(site, run_dir):
    for f in ("model.json", "page.json"):
        text = (site / f).read_text()
        assert str(Path(run_dir).resolve()) not in text and str(Path.home()) not in text, f
        if DATA: assert DATA not in text, f


def page_probabilities(browser, images: np.ndarray) -> np.ndarray:
    """The page's `cifarNb.predict` of each uint8 image (N, 32, 32, 3)."""
    return np.array(browser.execute_script("return arguments[0].map(p => window.cifarNb.predict(p));",
                                           [img.ravel().tolist() for img in images]))


def test_probabilities_equal_keras(page, browser, model, data):
    from cifar_nb.data import scale_images
    images = data.x_test[np.linspace(0, len(data.x_test) - 1, 40).astype(int)]  # 40 test images, spread out
    want = model.predict(scale_images(images), verbose=0)
    got = page_probabilities(browser, images)
    diff = np.abs(got - want).max()
    print(f"\n{len(images)} test images: largest difference from Keras's probabilities {diff:.2e}")
    assert got.shape == want.shape and diff < PROB_TOL, diff
    np.testing.assert_array_equal(got.argmax(1), want.argmax(1))
    # every layer's output, not only the last: the first convolution of one image against Keras's
    import keras
    first = keras.ops.convert_to_numpy(model.layers[0](scale_images(images[:1])))[0]
    layer0 = browser.execute_script("return window.cifarNb.forward(arguments[0])[0];", images[0].ravel().tolist())
    assert layer0["shape"] == list(first.shape)
    np.testing.assert_allclose(np.reshape(layer0["data"], first.shape), first, atol=1e-5)


def test_every_supported_layer_equals_keras(page, browser, site, data):
    """The page's JavaScript on a CNN with every layer and setting it supports ('same' padding, strides, BN...)."""
    import keras
    from cifar_nb.data import scale_images
    from cifar_nb.explorer import every_layer_cnn, export_web
    model = every_layer_cnn(seed=1, num_classes=len(data.class_names))
    export_web(model, data.class_names, site / "every.json")
    assert browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.cifarNb.loadModel('every.json')"
        ".then(m => { window.everyLayer = m; done('ok'); }, e => done(String(e)));"
    ) == "ok"
    images = data.x_test[np.linspace(0, len(data.x_test) - 1, 20).astype(int)]
    got = np.array(browser.execute_script("return arguments[0].map(p => window.cifarNb.predict(p, window.everyLayer));",
                                          [img.ravel().tolist() for img in images]))
    want = model.predict(scale_images(images), verbose=0)
    print(f"\n{model.name}: largest difference from Keras's probabilities {np.abs(got - want).max():.2e}")
    assert np.abs(got - want).max() < PROB_TOL
    # layer by layer, on one image: each of the page's layers against Keras's layer on the same input
    outs = browser.execute_script("return window.cifarNb.forward(arguments[0], window.everyLayer);",
                                  images[0].ravel().tolist())
    x = scale_images(images[:1])
    for layer, out in zip(model.layers, outs):
        x = keras.ops.convert_to_numpy(layer(x))
        assert out["shape"] == list(x.shape[1:]), layer.name
        np.testing.assert_allclose(np.reshape(out["data"], x.shape[1:]), x[0], atol=1e-5, err_msg=layer.name)


def keras_convolve(image: np.ndarray, k: np.ndarray, mode: str) -> np.ndarray:
    """`keras.layers.Conv2D` with the 2-D kernel `k`, padding 'same', no bias, on the image scaled to 0-1."""
    import keras
    from cifar_nb.data import scale_images
    from cifar_nb.layers_from_scratch import per_channel_kernel, rgb_filter
    kernel = per_channel_kernel(k) if mode == "rgb" else rgb_filter(k)
    conv = keras.layers.Conv2D(kernel.shape[-1], k.shape, padding="same", use_bias=False)
    conv.build((None, 32, 32, 3))
    conv.set_weights([kernel])
    return conv(scale_images(image[None])).numpy()[0]


def test_playground_equals_keras_conv2d(page, browser, data):
    from cifar_nb.layers_from_scratch import KERNELS
    kernels = {**KERNELS, "random": np.random.default_rng(0).normal(size=(3, 3)).astype(np.float32)}
    worst = 0.0
    for image in data.x_test[:3]:
        for name, k in kernels.items():
            for mode in ("rgb", "gray"):
                got = np.array(browser.execute_script("return window.cifarNb.convolve(...arguments);",
                                                      image.ravel().tolist(), k.tolist(), mode))
                want = keras_convolve(image, k, mode)
                worst = max(worst, np.abs(got.reshape(want.shape) - want).max())
                assert worst < CONV_TOL, (name, mode, worst)
    print(f"\nkernel playground: largest difference from keras.layers.Conv2D {worst:.2e}")


def canvas_pixels(browser, selector: str) -> np.ndarray:
    """The RGB pixels of the canvas `selector` as drawn (not as scaled on screen)."""
    w, h, rgba = browser.execute_script(
        "const c = document.querySelector(arguments[0]);"
        "return [c.width, c.height, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)];",
        selector)
    return np.array(rgba, np.uint8).reshape(h, w, 4)[..., :3]


def test_playground_presets_and_typed_weights_update_the_output(page, browser, data):
    from selenium.webdriver.common.by import By
    from cifar_nb.layers_from_scratch import KERNELS
    browser.find_element(By.CSS_SELECTOR, "#presets button[data-kernel='blur']").click()
    weights = [float(i.get_attribute("value")) for i in browser.find_elements(By.CSS_SELECTOR, "#kernel input")]
    np.testing.assert_allclose(weights, KERNELS["blur"].ravel(), atol=1e-4)
    assert browser.find_element(By.ID, "conv-mode").get_attribute("value") == "rgb"
    # what the playground draws: the convolution of the chosen image, clipped to 0-1
    pixels = np.array(browser.execute_script("return Array.from(window.cifarNb.current().pixels);"), np.uint8)
    want = np.clip(keras_convolve(pixels.reshape(32, 32, 3), KERNELS["blur"], "rgb"), 0, 1) * 255
    assert np.abs(canvas_pixels(browser, "#conv-out").astype(float) - want).max() <= 1
    # a weight typed into the grid: the identity kernel doubled gives the image twice as bright
    browser.find_element(By.CSS_SELECTOR, "#presets button[data-kernel='identity']").click()
    centre = browser.find_elements(By.CSS_SELECTOR, "#kernel input")[4]
    centre.clear()
    centre.send_keys("2")
    want = np.clip(pixels.reshape(32, 32, 3).astype(float) * 2, 0, 255)
    assert np.abs(canvas_pixels(browser, "#conv-out").astype(float) - want).max() <= 1
    assert "add up to 2" in browser.find_element(By.ID, "conv-note").text
    browser.find_element(By.CSS_SELECTOR, "#presets button[data-kernel='edge']").click()
    assert browser.find_element(By.ID, "conv-mode").get_attribute("value") == "gray"  # edge kernels: brightness


def top3(browser) -> list[tuple[str, str]]:
    return [tuple(r) for r in browser.execute_script(
        "return [...document.querySelectorAll('#top3 .top3-row')]"
        ".map(r => [r.dataset.class, r.querySelector('.prob').textContent]);")]


def test_clicking_a_gallery_image_updates_the_prediction_and_the_feature_maps(page, browser, model, data):
    from selenium.webdriver.common.by import By
    from cifar_nb.data import scale_images
    from cifar_nb.explorer import gallery_indices
    thumbs = browser.find_elements(By.CSS_SELECTOR, "#gallery .thumb")
    idx = gallery_indices(data)
    assert len(thumbs) == len(idx) == 3 * len(data.class_names)
    before_top3, before_map = top3(browser), canvas_pixels(browser, ".layer[data-layer] .map")
    n = 3 * 6 + 1  # the second image of class 6 (frog)
    thumbs[n].click()
    assert str(idx[n]) in browser.find_element(By.ID, "chosen-title").text
    probs = model.predict(scale_images(data.x_test[idx[n]][None]), verbose=0)[0]
    want = [(data.class_names[k], f"{100 * probs[k]:.1f}%") for k in np.argsort(-probs)[:3]]
    assert top3(browser) == want and want != before_top3
    assert "active" in thumbs[n].get_attribute("class")
    # a picture per feature map of each layer with maps, and they show the new image
    layers = browser.find_elements(By.CSS_SELECTOR, "#layers .layer")
    assert [s.get_attribute("data-layer") for s in layers] == ["input"] + [l.name for l in model.layers]
    for layer in model.layers:
        maps = browser.find_elements(By.CSS_SELECTOR, f".layer[data-layer='{layer.name}'] canvas.map")
        shape = layer.output.shape
        assert len(maps) == (shape[-1] if len(shape) == 4 else 0), layer.name
    assert not np.array_equal(canvas_pixels(browser, ".layer[data-layer] .map"), before_map)
    # one colour scale per map instead of per layer: redrawn, and the legend says so
    from selenium.webdriver.support.ui import Select
    def pictures():  # every map of the first layer, as drawn
        return browser.execute_script("return [...document.querySelectorAll(arguments[0])].map(c => c.toDataURL());",
                                      f".layer[data-layer='{model.layers[0].name}'] canvas.map")
    per_layer = pictures()
    Select(browser.find_element(By.ID, "map-scale")).select_by_value("map")
    legend = browser.find_element(By.CSS_SELECTOR, f".layer[data-layer='{model.layers[0].name}'] .note")
    assert "each map" in legend.text
    assert pictures() != per_layer
    Select(browser.find_element(By.ID, "map-scale")).select_by_value("layer")
    assert pictures() == per_layer


def test_clicking_a_feature_map_shows_the_filter_that_made_it(page, browser, model):
    import keras
    from selenium.webdriver.common.by import By
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    for conv in convs:
        maps = browser.find_elements(By.CSS_SELECTOR, f".layer[data-layer='{conv.name}'] canvas.map")
        ch = min(5, len(maps) - 1)
        maps[ch].click()
        view = browser.find_element(By.ID, "kernel-view")
        kernel, bias = (keras.ops.convert_to_numpy(w) for w in (conv.kernel, conv.bias))
        assert f"{conv.name}, map {ch}" in view.text
        # one 3×3 picture per input channel, coloured by the weights of this filter, and its bias
        assert len(view.find_elements(By.CSS_SELECTOR, ".kernel-grid canvas")) == kernel.shape[2]
        shown = [float(v) for v in view.find_element(By.CSS_SELECTOR, ".kernel-grid canvas")
                 .get_attribute("title").split()]
        np.testing.assert_allclose(shown, kernel[:, :, 0, ch].ravel(), atol=5e-4, rtol=5e-3)
        assert "bias" in view.text and abs(float(view.find_element(By.CSS_SELECTOR, ".bias").text.split()[-1])
                                           - bias[ch]) < 5e-4 + 5e-3 * abs(bias[ch])
        # the picture of a weight is red above 0, blue below
        w = kernel[:, :, 0, ch]
        px = canvas_pixels(browser, "#kernel-view .kernel-grid canvas").reshape(-1, 3).astype(int)
        pos, neg = w.ravel() > 0.05 * np.abs(w).max(), w.ravel() < -0.05 * np.abs(w).max()
        assert (px[pos, 0] >= px[pos, 2]).all() and (px[neg, 2] >= px[neg, 0]).all()
    assert "active" in maps[ch].get_attribute("class")


def test_a_photo_of_ones_own(page, browser, model, data, tmp_path):
    from PIL import Image
    from cifar_nb.data import scale_images
    from selenium.webdriver.common.by import By
    # one colour: however the browser resizes it, the 32×32 image is that colour, so Keras's answer is known
    colour = (200, 40, 90)
    Image.new("RGB", (48, 40), colour).save(tmp_path / "photo.png")
    browser.find_element(By.ID, "photo").send_keys(str(tmp_path / "photo.png"))
    for _ in range(100):
        if "photo.png" in browser.find_element(By.ID, "chosen-title").text: break
        time.sleep(0.1)
    assert "your photo: photo.png" in browser.find_element(By.ID, "chosen-title").text
    assert "48×40" in browser.find_element(By.ID, "photo-msg").text
    current = browser.execute_script("const c = window.cifarNb.current(); "
                                     "return [Array.from(c.pixels), c.probabilities];")
    np.testing.assert_array_equal(np.reshape(current[0], (32 * 32, 3)), np.tile(colour, (32 * 32, 1)))
    want = model.predict(scale_images(np.full((1, 32, 32, 3), colour, np.uint8)), verbose=0)[0]
    assert np.abs(np.array(current[1]) - want).max() < PROB_TOL
    assert [c for c, _ in top3(browser)] == [data.class_names[k] for k in np.argsort(-want)[:3]]
    # a file that is no image is refused with a message, and the page keeps its image
    (tmp_path / "notes.txt").write_text("not an image")
    browser.find_element(By.ID, "photo").send_keys(str(tmp_path / "notes.txt"))
    time.sleep(0.3)
    assert "is not an image" in browser.find_element(By.ID, "photo-msg").text


def test_run_information_is_shown(page, browser, run_dir):
    from selenium.webdriver.common.by import By
    from cifar_nb.explorer import recorded_accuracy
    info = browser.find_element(By.ID, "run-info").text
    assert "baseline_cnn" in info and "test accuracy" in info and "Gallery: the first 3 test images" in info
    acc, _ = recorded_accuracy(run_dir)
    if acc is not None: assert f"{100 * acc:.1f}%" in info


def test_no_request_left_the_page_and_no_error_during_the_tests(page, browser, base_url):
    # after the other tests (pytest runs them in file order): everything the page did meanwhile
    console, requests = browser.get_log("browser"), requested_urls(browser)
    assert not severe(console), f"errors in the browser console: {severe(console)}"
    assert not outside(requests, base_url), f"requests outside the page: {outside(requests, base_url)}"


def test_screenshots(page, browser, base_url):
    from selenium.webdriver.common.by import By
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.execute_script("window.cifarNb.select(3 * 3)")  # a cat
    browser.find_elements(By.CSS_SELECTOR, ".layer canvas.map")[3 + 4].click()  # a map of the first convolution
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(SHOTS / "explorer.png"))
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1440, min(height, 16000))
    time.sleep(0.5)
    browser.save_screenshot(str(SHOTS / "explorer-full.png"))
    browser.set_window_size(1440, 900)
    for f in ("explorer.png", "explorer-full.png"): assert (SHOTS / f).stat().st_size > 10_000
    print(f"\nscreenshots: {SHOTS}")


def test_opened_from_the_disk_the_page_says_to_serve_it(page, browser, site):
    # last: it leaves the served page, and the browser logs its refusal to fetch file:// URLs as errors
    browser.get((site / "index.html").as_uri())
    status = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.cifarNb.ready.then(() => done('ready'), () => done(document.getElementById('status').textContent));")
    assert "only over HTTP" in status and "python -m http.server" in status, status
    browser.get_log("browser")
