#!/usr/bin/env python3
"""Peers for bench/training.ts: fit one model on the bench's data and print one JSON line.

    python3 bench/training-peers.py <xgboost|sklearn-hgb|sklearn-logistic> <data dir> [json params]

The data dir holds x.bin (float32, rows x features, row-major), y.bin (float32 labels) and
meta.json ({"rows", "features", "trainRows"}); the first trainRows rows train, the rest are
the holdout. Time covers building the peer's own data structure (DMatrix, bins) and the fit,
not reading the files or predicting. A missing library prints {"skipped": "<why>"}.
"""
import json
import resource
import sys
import time

which, data_dir = sys.argv[1], sys.argv[2]
params = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}


def peak_rss_mb():
    """VmHWM of this process (Linux): getrusage's maxrss carries the parent's size over a fork."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def skip(why):
    print(json.dumps({"skipped": why}))
    sys.exit(0)


try:
    import numpy as np
    from sklearn.metrics import roc_auc_score
except ImportError as e:
    skip(f"python3-numpy / python3-sklearn not installed ({e}); apt-get install python3-sklearn")

meta = json.load(open(f"{data_dir}/meta.json"))
x = np.fromfile(f"{data_dir}/x.bin", dtype=np.float32).reshape(meta["rows"], meta["features"])
y = np.fromfile(f"{data_dir}/y.bin", dtype=np.float32)
n = meta["trainRows"]
xt, yt, xh, yh = x[:n], y[:n], x[n:], y[n:]

t0 = time.perf_counter()
c0 = time.process_time()
if which == "xgboost":
    try:
        import xgboost
    except ImportError as e:
        skip(f"python3-xgboost not installed ({e}); apt-get install python3-xgboost")
    d = xgboost.DMatrix(xt, label=yt, nthread=params["nthread"])
    booster = xgboost.train(
        {
            "tree_method": "hist",
            "objective": "binary:logistic",
            "max_depth": params["max_depth"],
            "eta": params["eta"],
            "max_bin": params["max_bin"],
            "lambda": params["lambda"],
            "min_child_weight": params["min_child_weight"],
            "nthread": params["nthread"],
        },
        d,
        num_boost_round=params["rounds"],
    )
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    p = booster.predict(xgboost.DMatrix(xh, nthread=params["nthread"]))
    version = xgboost.__version__
elif which == "sklearn-hgb":
    import sklearn
    from sklearn.ensemble import HistGradientBoostingClassifier

    m = HistGradientBoostingClassifier(
        max_iter=params["rounds"],
        max_depth=params["max_depth"],
        max_leaf_nodes=None,
        learning_rate=params["eta"],
        l2_regularization=params["lambda"],
        max_bins=255,
        early_stopping=False,
    ).fit(xt, yt)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    p = m.predict_proba(xh)[:, 1]
    version = sklearn.__version__
elif which == "sklearn-logistic":
    import sklearn
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=params.get("C", 1.0), max_iter=1000).fit(xt, yt)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    p = m.predict_proba(xh)[:, 1]
    version = sklearn.__version__
else:
    skip(f"unknown peer {which}")

print(json.dumps({
    "seconds": round(seconds, 3),
    "cpuSeconds": round(cpu, 3),
    "auc": float(roc_auc_score(yh, p)),
    "peakRssMB": peak_rss_mb(),
    "version": version,
}))
