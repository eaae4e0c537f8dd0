# SPDX-License-Identifier: GPL-3.0-or-later
"""ONNX Runtime's logits for a Tunebench ONNX graph (tst_onnx_export): reads float32 images [N, 3, H, W] from a
raw file, writes the float32 logits [N, C] to another."""
import argparse

import numpy as np
import onnxruntime as ort

parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("images")
parser.add_argument("--shape", type=int, nargs=4, required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
images = np.fromfile(args.images, dtype=np.float32).reshape(args.shape)
logits = session.run(["logits"], {"images": images})[0]
logits.astype(np.float32).tofile(args.out)
print(logits.shape[1])
