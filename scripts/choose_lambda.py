#!/usr/bin/env python3
# Usage: python scripts/choose_lambda.py   (needs numpy and h5py; run from the repository root)
# 5-fold CV of the ls oracle's lambda on the TRAINING split of the bundled data only.
import h5py, numpy as np
res = {}
for ds in ["FashionMNIST", "MNIST5k", "Digits"]:
    f = h5py.File(f"data/embeddings/{ds}/efficientnet_lite0/train/embeddings_{ds}_efficientnet_lite0_train.h5")
    X = f["embeddings"][:].astype(np.float64); y = f["labels"][:]
    rng = np.random.default_rng(0); idx = rng.permutation(len(y)); folds = np.array_split(idx, 5)
    for lam in [1e-4, 1e-3, 1e-2, 0.05, 0.1]:
        accs = []
        for i in range(5):
            te = folds[i]; tr = np.concatenate([folds[j] for j in range(5) if j != i])
            Xt, yt = X[tr], y[tr]; C = 10
            M = np.stack([Xt[yt == c].mean(0) for c in range(C)], 1)
            A = Xt.T @ Xt / len(yt) + lam * np.eye(X.shape[1])
            W = np.linalg.solve(A, M).T / C
            accs.append((np.argmax(X[te] @ W.T, 1) == y[te]).mean())
        res.setdefault(lam, []).append(np.mean(accs))
for lam, v in res.items():
    print(f"lambda={lam:g}: " + " ".join(f"{a*100:.1f}" for a in v) + f"  mean {np.mean(v)*100:.2f}")
