"""The demo's speed, measured through the running app as its users meet it, and its screenshot.

    python examples/quickstart.py                      # the IMDB quickstart model, outputs/han-imdb-quickstart
    python benchmarks/bench_demo.py [--model outputs/han-imdb-quickstart] [--screenshot docs/demo.png]

1. One document: a 1,000-word review (real IMDB test reviews joined and cut at 1,000 words) classified through the
   app's API with `gradio_client` (label, probabilities and the shaded text, as the page gets them), `--requests`
   times after two warm-up calls: median and 90th percentile of the round trip.
2. Upload: `--upload_docs` IMDB test reviews as a CSV through the app's file endpoint, against the pipeline itself
   at batch 32 on the same documents (interleaved, `--repeats` each): docs/s of both and their ratio.
3. `--screenshot`: a headless Chromium (Debian's chromium and chromium-driver, through selenium) opens the app,
   takes the first example, classifies it and saves the page as a PNG.

Run it alone: on 2 cores any other job distorts the figures.
"""

import argparse
import csv
import json
import os
import platform
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path


os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))  # offline_datasets.py

from gradio_client import Client, handle_file  # noqa: E402

from hf_han.demo import build_demo  # noqa: E402

from offline_datasets import prepare_imdb_splits, read_split  # noqa: E402


def long_review(texts: list[str], words: int) -> str:
    """Real reviews joined until `words` words, cut there (at a word boundary)."""
    collected = []
    for text in texts:
        collected.extend(text.split())
        if len(collected) >= words:
            break
    return " ".join(collected[:words])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def screenshot(url: str, path: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800"):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        browser.get(url)
        wait = WebDriverWait(browser, 60)
        wait.until(expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, "textarea")))
        examples = browser.find_elements(
            By.CSS_SELECTOR, ".gallery-item, [data-testid='examples'] button, table tbody tr"
        )
        if examples:
            examples[0].click()
            wait.until(lambda b: b.find_element(By.CSS_SELECTOR, "textarea").get_attribute("value"))
        else:
            browser.find_element(By.CSS_SELECTOR, "textarea").send_keys("A wonderful film. I loved it!")
        browser.find_element(By.XPATH, "//button[normalize-space()='Classify']").click()
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, ".han-attention span.w"))
        time.sleep(1)  # the label's bars animate in
        browser.save_screenshot(str(path))
    finally:
        browser.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="outputs/han-imdb-quickstart")
    parser.add_argument("--words", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--upload_docs", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()

    texts, _ = read_split(prepare_imdb_splits()["test"])
    review = long_review(texts, args.words)
    demo = build_demo(args.model)
    app = demo.build()
    _, url, _ = app.queue().launch(
        server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True
    )
    results = {"model": args.model, "torch_threads": __import__("torch").get_num_threads(),
               "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"}  # fmt: skip
    try:
        client = Client(url, verbose=False)
        for _ in range(2):
            client.predict(review, api_name="/classify")
        seconds = []
        for _ in range(args.requests):
            started = time.perf_counter()
            labels, page, _ = client.predict(review, api_name="/classify")
            seconds.append(time.perf_counter() - started)
        assert labels["label"] and 'class="w"' in page
        quantiles = statistics.quantiles(seconds, n=10)
        results["one_document"] = {
            "words": len(review.split()),
            "requests": args.requests,
            "median_ms": round(1000 * statistics.median(seconds), 1),
            "p90_ms": round(1000 * quantiles[-1], 1),
        }

        documents = texts[: args.upload_docs]
        folder = Path(tempfile.mkdtemp())
        upload = folder / "reviews.csv"
        with open(upload, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text"])
            writer.writerows([text] for text in documents)
        pipeline_rates, upload_rates = [], []
        for _ in range(args.repeats):  # interleaved
            started = time.perf_counter()
            demo.classifier(documents, batch_size=32, top_k=None)
            pipeline_rates.append(len(documents) / (time.perf_counter() - started))
            started = time.perf_counter()
            output, message = client.predict(handle_file(str(upload)), api_name="/classify_file")
            upload_rates.append(len(documents) / (time.perf_counter() - started))
            assert f"Classified {len(documents):,} documents" in message, message
        results["upload"] = {
            "documents": len(documents),
            "pipeline_docs_per_s": round(statistics.median(pipeline_rates), 1),
            "upload_docs_per_s": round(statistics.median(upload_rates), 1),
            "ratio": round(statistics.median(upload_rates) / statistics.median(pipeline_rates), 3),
        }
        if args.screenshot:
            screenshot(url, args.screenshot)
            results["screenshot"] = str(args.screenshot)
    finally:
        app.close()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
