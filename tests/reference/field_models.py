#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The field's own implementations as references for tst_field_references (issue 27).

Builds random-weight models with the libraries people use, with no download, saves each in its own
library's on-disk format, and writes fixed inputs and the library's own outputs for the C++ side:

    field_models.py --out DIR

DIR/open_clip-ViT-B-16/   open_clip.create_model('ViT-B-16'), laid out as open_clip's save_for_hf writes it
                          (open_clip_config.json, open_clip_model.safetensors, open_clip_pytorch_model.bin)
DIR/open_clip-ViT-L-14-336/open_clip_model.safetensors (+ open_clip_config.json)
                          open_clip.create_model('ViT-L-14-336'): ViT-L/14 at 336 pixels (issue 30), with
                          its own 336-pixel input images ("images336")
DIR/open_clip-RN50/epoch_1.pt
                          open_clip.create_model('RN50') as open_clip's training loop checkpoints it
                          (epoch, name, DDP-prefixed state_dict, optimizer); no config beside it
DIR/hf-clip/              transformers.CLIPModel from a small CLIPConfig, save_pretrained, with a
                          CLIPTokenizer built from open_clip's vocabulary and saved beside it
DIR/timm-vit_base_patch16_224/
                          timm.create_model('vit_base_patch16_224'), timm's save_for_hf (config.json,
                          model.safetensors)
DIR/references.safetensors  the inputs and every library's outputs, float32 / int64
DIR/references.json         what was built, how to load it, the tokenizer cases, package versions

Every saved tensor is perturbed after the library's initialisation: freshly initialised LayerNorms
(weight 1, bias 0), zero biases, open_clip's zeroed bn3 weights and default BatchNorm statistics would hide
a swapped or dropped tensor. Runs offline, on the CPU, in float32, in about 30 s on 2 cores.
"""

import argparse
import json
import os
import sys
import time

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

SEED = 2027
IMAGE_BATCH = 2
PROMPTS = ["a photo of a cat.", "a photo of a dog.", "a blurry photo of the large red school bus in winter."]

# The tokenizer cases: prompt forms, punctuation, whitespace, HTML entities, clean (NFC) Unicode text,
# numbers, and text long enough to be truncated at 77 ids.
TOKENIZER_CASES = [
    "a photo of a cat.",
    "a photo of a {}.",
    "a photo of the Golden Retriever.",
    "itap of a cheeseburger.",
    "a bad photo of the t-shirt.",
    "a sculpture of a pickup_truck.",
    "A PHOTO OF A BIG DOG!",
    "",
    "   leading and trailing spaces   ",
    "tabs\tand\nnewlines\r\nand  double  spaces",
    "Hello, world! (test) [x] {y} <z> 'single' \"double\" `back` ~tilde~ @at #hash $5 %p ^c &amp *s",
    "it's, don't, we'll, they've, I'M, she'd, you're",
    "e-mail: someone@example.com, url: https://example.org/path?q=1&r=2",
    "3.14159, 1,000,000 and 2026-05-09 at 16:40",
    "fish &amp; chips &lt;b&gt; &quot;quoted&quot; &#39;apos&#39; &amp;amp;",
    "café naïve résumé façade Zürich",
    "Straße, ÅNGSTRÖM, İstanbul, ΟΔΟΣ ΣΟΦΙΑΣ",
    "東京タワーの写真",
    "фотография кошки",
    "صورة قطة",
    "a photo of a 🐱 and a 🐶 🎉🎉",
    "x" * 300,
    " ".join(["word"] * 100),
    "a photo of a " + ", ".join(f"class number {i}" for i in range(40)) + ".",
]


def perturb(model, generator):
    """Adds deterministic noise to every saved floating tensor; keeps BatchNorm variances positive.

    Only the state dict (its tensors share the model's storage): non-persistent buffers such as
    open_clip's causal attention mask are part of the architecture, not weights."""
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            noise = torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype)
            if name.endswith("running_var"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=generator, dtype=tensor.dtype))
            else:
                tensor.add_(0.02 * noise)


def clip_vocabulary(open_clip):
    """The vocabulary open_clip ships, as a Hugging Face vocab dict and merge list (OpenAI's special-token names)."""
    simple = open_clip.tokenizer.SimpleTokenizer()
    renamed = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}
    vocab = {renamed.get(token, token): index for token, index in simple.encoder.items()}
    merges = [pair for pair, _ in sorted(simple.bpe_ranks.items(), key=lambda item: item[1])]
    return vocab, merges


def build_open_clip(open_clip, name, generator):
    model = open_clip.create_model(name, pretrained=None)
    perturb(model, generator)
    model.eval()
    return model


def open_clip_outputs(model, images, tokens):
    with torch.no_grad():
        image_features = model.encode_image(images)
        text_features = model.encode_text(tokens)
        image_embeds, text_embeds, scale = model(images, tokens)[:3]
        logits = scale * image_embeds @ text_embeds.t()
    return image_features, text_features, logits


def save_open_clip_hub_folder(open_clip, model, name, folder):
    """What open_clip's push_to_hf_hub.save_for_hf writes (it needs an HF tokenizer, so its steps by hand)."""
    from open_clip.push_to_hf_hub import save_config_for_hf
    from pathlib import Path

    os.makedirs(folder, exist_ok=True)
    tensors = model.state_dict()
    save_file(tensors, os.path.join(folder, "open_clip_model.safetensors"))
    torch.save(tensors, os.path.join(folder, "open_clip_pytorch_model.bin"))
    save_config_for_hf(model, Path(folder) / "open_clip_config.json", model_config=open_clip.get_model_config(name))


def save_open_clip_training_checkpoint(model, name, path):
    """open_clip's training/main.py checkpoint: the DDP-wrapped model's state_dict and the optimizer."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.2)
    state = {"module." + key: value for key, value in model.state_dict().items()}
    torch.save({"epoch": 1, "name": f"field-reference-{name}", "state_dict": state, "optimizer": optimizer.state_dict()}, path)


def build_hf_clip(transformers, open_clip, folder, images, tokens, generator):
    config = transformers.CLIPConfig(
        text_config={"vocab_size": 49408, "hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "max_position_embeddings": 77},
        # Exact GELU and 3 heads of 32 in the image tower: config.json must be honoured, not guessed.
        vision_config={"hidden_size": 96, "intermediate_size": 384, "num_hidden_layers": 2, "num_attention_heads": 3,
                       "image_size": 224, "patch_size": 32, "hidden_act": "gelu"},
        projection_dim=48,
    )
    model = transformers.CLIPModel(config)
    perturb(model, generator)
    model.eval()
    model.save_pretrained(folder)
    vocab, merges = clip_vocabulary(open_clip)
    transformers.CLIPTokenizer(vocab=vocab, merges=merges).save_pretrained(folder)
    with torch.no_grad():
        image_features = model.get_image_features(pixel_values=images)
        text_features = model.get_text_features(input_ids=tokens)
        # transformers 5 returns output objects whose pooler_output is the projected feature.
        image_features = getattr(image_features, "pooler_output", image_features)
        text_features = getattr(text_features, "pooler_output", text_features)
        logits = model(input_ids=tokens, pixel_values=images).logits_per_image
    return image_features, text_features, logits


def build_timm(timm, folder, images, generator):
    model = timm.create_model("vit_base_patch16_224", pretrained=False)
    perturb(model, generator)
    model.eval()
    timm.models.save_for_hf(model, folder, safe_serialization=True)
    with torch.no_grad():
        tokens = model.forward_features(images)
        pre_logits = model.forward_head(tokens, pre_logits=True)
        logits = model.forward_head(tokens)
    return pre_logits, logits


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder to write into (created)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import open_clip
    import timm
    import transformers

    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    os.makedirs(args.out, exist_ok=True)
    started = time.time()
    timings = {}

    # Normalised pixels of random 8-bit images, as a preprocessing pipeline would hand them over.
    pixels = torch.randint(0, 256, (IMAGE_BATCH, 3, 224, 224), generator=generator).float() / 255.0
    mean = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(open_clip.OPENAI_DATASET_STD).view(1, 3, 1, 1)
    images = ((pixels - mean) / std).contiguous()
    tokenizer = open_clip.get_tokenizer("ViT-B-16")
    tokens = tokenizer(PROMPTS).to(torch.int64)
    outputs = {"images": images, "tokens": tokens}
    models = []

    def timed(label, action):
        begin = time.time()
        result = action()
        timings[label] = round(time.time() - begin, 2)
        return result

    # open_clip ViT-B-16: the configuration has no quick_gelu, so open_clip builds it with exact GELU.
    vit_folder = os.path.join(args.out, "open_clip-ViT-B-16")
    model = timed("open_clip ViT-B-16 build", lambda: build_open_clip(open_clip, "ViT-B-16", generator))
    timed("open_clip ViT-B-16 save", lambda: save_open_clip_hub_folder(open_clip, model, "ViT-B-16", vit_folder))
    results = timed("open_clip ViT-B-16 forward", lambda: open_clip_outputs(model, images, tokens))
    for key, value in zip(("image_features", "text_features", "logits"), results):
        outputs[f"open_clip-ViT-B-16.{key}"] = value
    models.append({"name": "open_clip-ViT-B-16", "library": "open_clip", "activation": "gelu", "files": [
        os.path.join(vit_folder, "open_clip_model.safetensors"), os.path.join(vit_folder, "open_clip_pytorch_model.bin"),
        vit_folder]})
    del model

    # open_clip ViT-L-14-336, the largest geometry Tunebench documents (577 positions, 24 layers of width
    # 1024): only the safetensors container, on its own 336-pixel images.
    pixels336 = torch.randint(0, 256, (IMAGE_BATCH, 3, 336, 336), generator=generator).float() / 255.0
    images336 = ((pixels336 - mean) / std).contiguous()
    outputs["images336"] = images336
    large_folder = os.path.join(args.out, "open_clip-ViT-L-14-336")
    model = timed("open_clip ViT-L-14-336 build", lambda: build_open_clip(open_clip, "ViT-L-14-336", generator))
    def save_large():
        os.makedirs(large_folder, exist_ok=True)
        save_file(model.state_dict(), os.path.join(large_folder, "open_clip_model.safetensors"))
        from open_clip.push_to_hf_hub import save_config_for_hf
        from pathlib import Path
        save_config_for_hf(model, Path(large_folder) / "open_clip_config.json", model_config=open_clip.get_model_config("ViT-L-14-336"))
    timed("open_clip ViT-L-14-336 save", save_large)
    results = timed("open_clip ViT-L-14-336 forward", lambda: open_clip_outputs(model, images336, tokens))
    for key, value in zip(("image_features", "text_features", "logits"), results):
        outputs[f"open_clip-ViT-L-14-336.{key}"] = value
    models.append({"name": "open_clip-ViT-L-14-336", "library": "open_clip", "activation": "gelu", "files": [
        os.path.join(large_folder, "open_clip_model.safetensors")]})
    del model

    # open_clip RN50 (its text tower also uses exact GELU: RN50.json has no quick_gelu either).
    rn_path = os.path.join(args.out, "open_clip-RN50", "epoch_1.pt")
    model = timed("open_clip RN50 build", lambda: build_open_clip(open_clip, "RN50", generator))
    timed("open_clip RN50 save", lambda: save_open_clip_training_checkpoint(model, "RN50", rn_path))
    results = timed("open_clip RN50 forward", lambda: open_clip_outputs(model, images, tokens))
    for key, value in zip(("image_features", "text_features", "logits"), results):
        outputs[f"open_clip-RN50.{key}"] = value
    models.append({"name": "open_clip-RN50", "library": "open_clip", "activation": "gelu", "files": [rn_path]})
    del model

    hf_folder = os.path.join(args.out, "hf-clip")
    results = timed("transformers CLIPModel", lambda: build_hf_clip(transformers, open_clip, hf_folder, images, tokens, generator))
    for key, value in zip(("image_features", "text_features", "logits"), results):
        outputs[f"hf-clip.{key}"] = value
    models.append({"name": "hf-clip", "library": "transformers", "files": [hf_folder]})

    timm_folder = os.path.join(args.out, "timm-vit_base_patch16_224")
    results = timed("timm vit_base_patch16_224", lambda: build_timm(timm, timm_folder, images, generator))
    for key, value in zip(("pre_logits", "logits"), results):
        outputs[f"timm-vit_base_patch16_224.{key}"] = value
    models.append({"name": "timm-vit_base_patch16_224", "library": "timm",
                   "files": [os.path.join(timm_folder, "model.safetensors")]})

    # The tokenizer cases, as open_clip packs them (start, ids, end, zero padding, truncated to 77).
    case_ids = tokenizer(TOKENIZER_CASES).tolist()

    save_file({key: value.detach().contiguous() for key, value in outputs.items()}, os.path.join(args.out, "references.safetensors"))
    report = {
        "models": models,
        "vocabulary": os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz"),
        "tokenizer_cases": [{"text": text, "ids": ids} for text, ids in zip(TOKENIZER_CASES, case_ids)],
        "versions": {module.__name__: module.__version__ for module in (torch, open_clip, transformers, timm)},
        "seconds": timings,
    }
    report["seconds"]["total"] = round(time.time() - started, 2)
    with open(os.path.join(args.out, "references.json"), "w", encoding="utf-8") as out:
        json.dump(report, out, ensure_ascii=False, indent=1)
    print(json.dumps({"versions": report["versions"], "seconds": report["seconds"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
