#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""PEFT's LoRA and DoRA as references for tst_peft_equivalence (issue 31).

Builds a random-weight timm ViT (no download), wraps a copy of it with PEFT's LoraConfig on the blocks'
packed `qkv` Linear (r = 8, alpha = 8, no dropout; `use_dora=True` for DoRA) with the classifier head
trainable, and takes one plain SGD step on fixed images and labels:

    peft_models.py --out DIR

DIR/timm-vit/model.safetensors   the timm model (timm's save_for_hf)
DIR/peft.safetensors             images, labels; per method (lora, dora) the initialised adapter and head
                                 weights under Tunebench's names (METHOD/lora.<block>.qkv.lora_A, ...,
                                 METHOD/head.last_layer.weight), the logits before and after the step
DIR/peft.json                    per method the trainable parameter count PEFT reports, on that ViT and on
                                 ViT-B/16 with 100 classes (r = 8 on qkv, the head trainable); the step's lr;
                                 package versions
"""

import argparse
import copy
import json
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

SEED = 2031
CLASSES = 3
LR = 0.5  # large, so that one step moves the logits well beyond the comparison's tolerance


def adapter_weights(peft_model, blocks):
    """PEFT's adapter and head tensors under the names Tunebench's classic LoRA / DoRA use."""
    named = dict(peft_model.named_parameters())
    out = {}
    for block in range(blocks):
        prefix = f"base_model.model.blocks.{block}.attn.qkv."
        out[f"lora.{block}.qkv.lora_A"] = named[prefix + "lora_A.default.weight"]
        out[f"lora.{block}.qkv.lora_B"] = named[prefix + "lora_B.default.weight"]
        magnitude = prefix + "lora_magnitude_vector.default.weight"
        if magnitude in named:
            out[f"lora.{block}.qkv.magnitude"] = named[magnitude]
    # modules_to_save keeps a trainable copy of the head beside the frozen original.
    out["head.last_layer.weight"] = named["base_model.model.head.modules_to_save.default.weight"]
    out["head.last_layer.bias"] = named["base_model.model.head.modules_to_save.default.bias"]
    return {key: value.detach().clone().contiguous() for key, value in out.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder to write into (created)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import peft
    import timm

    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    os.makedirs(args.out, exist_ok=True)

    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=CLASSES)
    with torch.no_grad():  # timm starts biases and LayerNorms at 0 / 1: move them so a dropped tensor shows
        for name, tensor in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                tensor.add_(0.05 * torch.randn_like(tensor))
    model.eval()
    timm.models.save_for_hf(model, os.path.join(args.out, "timm-vit"), safe_serialization=True)

    images = torch.randn(4, 3, 224, 224)
    labels = torch.tensor([0, 1, 2, 1])
    tensors = {"images": images, "labels": labels}
    report = {"lr": LR, "versions": {m.__name__: m.__version__ for m in (torch, timm, peft)}}
    blocks = len(model.blocks)
    for method in ("lora", "dora"):
        config = peft.LoraConfig(r=8, lora_alpha=8, lora_dropout=0.0, target_modules=["qkv"], modules_to_save=["head"],
                                 use_dora=method == "dora")
        peft_model = peft.get_peft_model(copy.deepcopy(model), config)
        peft_model.eval()
        trainable, _ = peft_model.get_nb_trainable_parameters()
        report[method] = {"trainable": trainable}
        for key, value in adapter_weights(peft_model, blocks).items():
            tensors[f"{method}/{key}"] = value
        with torch.no_grad():
            tensors[f"{method}/logits_before"] = peft_model(images)
        parameters = [p for p in peft_model.parameters() if p.requires_grad]
        optimizer = torch.optim.SGD(parameters, lr=LR)
        loss = torch.nn.functional.cross_entropy(peft_model(images), labels)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            tensors[f"{method}/logits_after"] = peft_model(images)

    # ViT-B/16's counts (no forward pass), for `params --model vit-b16 --strategy lora --opt targets=qkv`.
    base = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=100)
    for method in ("lora", "dora"):
        config = peft.LoraConfig(r=8, lora_alpha=8, target_modules=["qkv"], modules_to_save=["head"], use_dora=method == "dora")
        report[method]["vit_b16_trainable"] = peft.get_peft_model(copy.deepcopy(base), config).get_nb_trainable_parameters()[0]

    save_file({key: value.contiguous() for key, value in tensors.items()}, os.path.join(args.out, "peft.safetensors"))
    with open(os.path.join(args.out, "peft.json"), "w", encoding="utf-8") as out:
        json.dump(report, out, indent=1)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
