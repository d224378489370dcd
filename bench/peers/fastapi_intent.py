"""fastapi_intent.py — the brief's FastAPI intent service, as a benchmark peer for kefu.

This is the service the product brief describes, written the way the brief writes it: a
pydantic request model (query 1-200 characters, session_id matching ^[a-f0-9]{32}$, context a
free-form object defaulting to {}) and POST /intent answered by a scikit-learn model.  It does
the same classification work as kefu's POST /v1/intent: TF-IDF over word 1-2 grams and char_wb
2-5 grams with sublinear tf, a linear SVM, a softmax over the decision values as confidence and
the top-3 alternatives.  It does not extract entities, so if anything it does less per request
than kefu.

Training data: a CSV with a header row, text in the first column and the label in the second
(the format `kefu train --data` reads), given by --data or KEFU_PEER_DATA.  The model is
trained at start-up, before the server accepts connections.

Run (one worker, as bench/run.sh does):
    KEFU_PEER_DATA=train.csv /usr/bin/python3 bench/peers/fastapi_intent.py --port 8001
"""
import argparse
import csv
import os
import sys
import time

import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel, Field
from pydantic.version import VERSION as PYDANTIC_VERSION
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC


# pydantic 1 (Debian 12) spells a string pattern `regex`, pydantic 2 `pattern`.
_PATTERN = "pattern" if PYDANTIC_VERSION.startswith("2") else "regex"


class IntentRequest(BaseModel):
    query: str = Field(..., min_length=1, max_length=200)
    session_id: str = Field(..., **{_PATTERN: r"^[a-f0-9]{32}$"})
    context: dict = {}


def load_csv(path):
    texts, labels = [], []
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        next(rows, None)  # header: names do not matter, positions do
        for row in rows:
            if len(row) >= 2 and row[0].strip() and row[1].strip():
                texts.append(row[0])
                labels.append(row[1].strip())
    if len(set(labels)) < 2:
        sys.exit(f"fastapi_intent: {path}: need at least two labels")
    return texts, labels


def train(path):
    texts, labels = load_csv(path)
    t0 = time.monotonic()
    features = FeatureUnion([
        ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, lowercase=True)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True)),
    ])
    x = features.fit_transform(texts)
    svm = LinearSVC(C=1.0)
    svm.fit(x, labels)
    print(f"fastapi_intent: trained on {len(texts)} rows, {len(svm.classes_)} intents, "
          f"{x.shape[1]} features in {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
    return features, svm


def build_app(data_path):
    features, svm = train(data_path)
    classes = [str(c) for c in svm.classes_]
    version = "sklearn-" + os.path.basename(data_path)
    app = FastAPI(title="fastapi_intent (kefu benchmark peer)")

    def classify(text):
        # LinearSVC margins are small (about -1..1); scaling them before the softmax spreads the
        # confidences out like probabilities.  The cost per request is the same either way.
        scores = svm.decision_function(features.transform([text]))[0] * 10.0
        e = np.exp(scores - scores.max())
        probs = e / e.sum()
        top = np.argsort(-probs)[:3]
        return [(classes[i], round(float(probs[i]), 4)) for i in top]

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    # async def, not def: the work is CPU-bound, so running it on the event loop avoids a
    # thread-pool hop per request; with one worker this is the fastest FastAPI can do it.
    @app.post("/intent")
    async def intent(req: IntentRequest):
        top = classify(req.query)
        return {
            "intent": top[0][0],
            "confidence": top[0][1],
            "alternatives": [{"intent": i, "confidence": c} for i, c in top],
            "entities": [],
            "out_of_scope": top[0][0] == "oos",
            "session_id": req.session_id,
            "model_version": version,
        }

    return app


def main():
    ap = argparse.ArgumentParser(description="the brief's FastAPI intent service (benchmark peer)")
    ap.add_argument("--data", default=os.environ.get("KEFU_PEER_DATA"), help="training CSV (text,label)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8001)
    args = ap.parse_args()
    if not args.data:
        ap.error("--data or KEFU_PEER_DATA is required")
    import uvicorn

    app = build_app(args.data)
    # uvloop + httptools when installed (Debian python3-uvloop, python3-httptools): the fastest
    # stack uvicorn has; "auto" falls back to asyncio + h11 otherwise.
    uvicorn.run(app, host=args.host, port=args.port, workers=1, loop="auto", http="auto",
                access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
