#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""PyTorch baselines for bench/bench_engine, in the style of the code users run today.

The model follows the structure of OpenAI CLIP's model.py (nn.MultiheadAttention, all 77 text positions,
QuickGELU, fp32 LayerNorm), CoOp's PromptLearner/TextEncoder, CoCoOp's per-image loop over the batch, MaPLe's and PromptSRC's
deep prompts and losses, and Tip-Adapter's cache logits. Written for this project with torch + numpy + the standard library only.

    clip_reference.py --task forward [--precision fp32|bf16|fp16] --work DIR ...   (bf16/fp16: torch.autocast, as bench_engine)
    clip_reference.py --task forward|coop|cocoop|maple|ivlp|promptsrc|prompt-tuning|p-tuning|prefix-tuning|p-tuning-v2|eval --work DIR [--threads N] [--repeats R] [--device cpu|cuda]
    clip_reference.py --load-only FILE.pt

It reads the weights and the batch that bench_engine wrote into DIR (same geometry, same random weights,
same inputs), prints one JSON object with the same fields as bench_engine, and the largest difference
between its logits/features and the engine's.
"""

import argparse
import json
import os
import resource
import statistics
import struct
import sys
import time
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32, "F64": np.float64}


def read_safetensors(path):
    """Header length (u64 LE), JSON header, then raw little-endian tensor bytes."""
    with open(path, "rb") as f:
        header_len = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(header_len))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(data, dtype=DTYPES[info["dtype"]], count=(end - start) // np.dtype(DTYPES[info["dtype"]]).itemsize, offset=start)
        tensors[name] = torch.from_numpy(array.copy()).reshape(info["shape"])
    return tensors


class LayerNorm(nn.LayerNorm):
    def forward(self, x):
        return super().forward(x.float()).type(x.dtype)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads, attn_mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(width, width * 4)), ("gelu", QuickGELU()),
                                              ("c_proj", nn.Linear(width * 4, width))]))
        self.ln_2 = LayerNorm(width)
        self.attn_mask = attn_mask

    def forward(self, x):
        mask = self.attn_mask.to(dtype=x.dtype, device=x.device) if self.attn_mask is not None else None
        normed = self.ln_1(x)
        x = x + self.attn(normed, normed, normed, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, attn_mask=None):
        super().__init__()
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, attn_mask) for _ in range(layers)])

    def forward(self, x):
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    def __init__(self, resolution, patch, width, layers, heads, output_dim):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(width))
        self.positional_embedding = nn.Parameter(torch.zeros((resolution // patch) ** 2 + 1, width))
        self.ln_pre = LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = LayerNorm(width)
        self.proj = nn.Parameter(torch.zeros(width, output_dim))

    def forward(self, x):
        x = self.conv1(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype, device=x.device)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x).permute(1, 0, 2)
        x = self.transformer(x).permute(1, 0, 2)
        return self.ln_post(x[:, 0, :]) @ self.proj


class Bottleneck(nn.Module):
    """OpenAI's ResNet bottleneck: the 3x3 convolution keeps stride 1 and an average pool downsamples."""

    expansion = 4

    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = None
        if stride > 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(OrderedDict([("-1", nn.AvgPool2d(stride)), ("0", nn.Conv2d(inplanes, planes * 4, 1, bias=False)),
                                                         ("1", nn.BatchNorm2d(planes * 4))]))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(self.avgpool(out)))
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + identity)


class AttentionPool2d(nn.Module):
    def __init__(self, grid, channels, heads, output_dim):
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.zeros(grid * grid + 1, channels))
        self.k_proj = nn.Linear(channels, channels)
        self.q_proj = nn.Linear(channels, channels)
        self.v_proj = nn.Linear(channels, channels)
        self.c_proj = nn.Linear(channels, output_dim)
        self.heads = heads

    def forward(self, x):
        x = x.flatten(start_dim=2).permute(2, 0, 1)                 # [HW, N, C]
        x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)      # the mean token first
        x = x + self.positional_embedding[:, None, :].to(x.dtype)
        out, _ = F.multi_head_attention_forward(
            query=x[:1], key=x, value=x, embed_dim_to_check=x.shape[-1], num_heads=self.heads,
            q_proj_weight=self.q_proj.weight, k_proj_weight=self.k_proj.weight, v_proj_weight=self.v_proj.weight,
            in_proj_weight=None, in_proj_bias=torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]),
            bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0,
            out_proj_weight=self.c_proj.weight, out_proj_bias=self.c_proj.bias,
            use_separate_proj_weight=True, training=False, need_weights=False)
        return out.squeeze(0)


class ModifiedResNet(nn.Module):
    """Three-convolution stem, four stages of bottlenecks, attention pooling (CLIP's RN50 ... RN50x64)."""

    def __init__(self, layers, output_dim, heads, resolution, width):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.conv2 = nn.Conv2d(width // 2, width // 2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.conv3 = nn.Conv2d(width // 2, width, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.avgpool = nn.AvgPool2d(2)
        inplanes = width
        for stage, blocks in enumerate(layers):
            planes = width * 2 ** stage
            modules = []
            for block in range(blocks):
                modules.append(Bottleneck(inplanes, planes, 2 if block == 0 and stage > 0 else 1))
                inplanes = planes * 4
            setattr(self, f"layer{stage + 1}", nn.Sequential(*modules))
        self.attnpool = AttentionPool2d(resolution // 32, inplanes, heads, output_dim)

    def forward(self, x):
        x = x.type(self.conv1.weight.dtype)
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        x = self.avgpool(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.attnpool(x)


class CLIP(nn.Module):
    """Hyper-parameters inferred from the tensors, as OpenAI's build_model does (a ViT when visual.proj exists)."""

    def __init__(self, sd):
        super().__init__()
        embed_dim = sd["text_projection"].shape[1]
        if "visual.proj" in sd:
            vision_width = sd["visual.conv1.weight"].shape[0]
            patch = sd["visual.conv1.weight"].shape[-1]
            vision_layers = len({k.split(".")[3] for k in sd if k.startswith("visual.transformer.resblocks.")})
            grid = round((sd["visual.positional_embedding"].shape[0] - 1) ** 0.5)
            self.visual = VisionTransformer(grid * patch, patch, vision_width, vision_layers, vision_width // 64, embed_dim)
        else:
            stages = [len({k.split(".")[2] for k in sd if k.startswith(f"visual.layer{s}.")}) for s in (1, 2, 3, 4)]
            vision_width = sd["visual.layer1.0.conv1.weight"].shape[0]
            grid = round((sd["visual.attnpool.positional_embedding"].shape[0] - 1) ** 0.5)
            assert grid ** 2 + 1 == sd["visual.attnpool.positional_embedding"].shape[0]
            self.visual = ModifiedResNet(stages, embed_dim, vision_width * 32 // 64, grid * 32, vision_width)
        context_length = sd["positional_embedding"].shape[0]
        vocab_size = sd["token_embedding.weight"].shape[0]
        text_width = sd["ln_final.weight"].shape[0]
        text_layers = len({k.split(".")[2] for k in sd if k.startswith("transformer.resblocks.")})
        mask = torch.empty(context_length, context_length).fill_(float("-inf")).triu_(1)
        self.transformer = Transformer(text_width, text_layers, text_width // 64, mask)
        self.token_embedding = nn.Embedding(vocab_size, text_width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, text_width))
        self.ln_final = LayerNorm(text_width)
        self.text_projection = nn.Parameter(torch.empty(text_width, embed_dim))
        self.logit_scale = nn.Parameter(torch.ones([]))
        self.load_state_dict(sd)

    def encode_image(self, image):
        return self.visual(image)

    def encode_text(self, tokens):
        x = (self.token_embedding(tokens) + self.positional_embedding).permute(1, 0, 2)
        x = self.ln_final(self.transformer(x).permute(1, 0, 2))
        return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ self.text_projection

    def forward(self, image, tokens):
        """Cosine similarities (logit scale 1), [images, texts]."""
        image_features = F.normalize(self.encode_image(image), dim=-1)
        text_features = F.normalize(self.encode_text(tokens), dim=-1)
        return image_features @ text_features.t()


class TextEncoder(nn.Module):
    """CoOp's text encoder: embedded prompts through all positions, pooled at the end-of-text token."""

    def __init__(self, clip):
        super().__init__()
        self.transformer = clip.transformer
        self.positional_embedding = clip.positional_embedding
        self.ln_final = clip.ln_final
        self.text_projection = clip.text_projection

    def forward(self, prompts, tokenized):
        x = (prompts + self.positional_embedding).permute(1, 0, 2)
        x = self.transformer(x).permute(1, 0, 2)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), tokenized.argmax(dim=-1)] @ self.text_projection


class PromptLearner(nn.Module):
    """CoOp (meta_net=None) or CoCoOp: frozen start token and class/end part around learned context."""

    def __init__(self, clip, tokens, ctx, meta=None):
        super().__init__()
        self.ctx = nn.Parameter(ctx.clone())
        n_ctx = ctx.shape[0]
        with torch.no_grad():
            embedding = clip.token_embedding(tokens)
        self.register_buffer("token_prefix", embedding[:, :1, :])
        self.register_buffer("token_suffix", embedding[:, 1 + n_ctx:, :])
        self.tokenized = tokens
        self.meta_net = None
        if meta is not None:
            w1, b1, w2, b2 = meta
            self.meta_net = nn.Sequential(OrderedDict([("linear1", nn.Linear(w1.shape[1], w1.shape[0])), ("relu", nn.ReLU(inplace=True)),
                                                       ("linear2", nn.Linear(w2.shape[1], w2.shape[0]))]))
            self.meta_net.load_state_dict({"linear1.weight": w1, "linear1.bias": b1, "linear2.weight": w2, "linear2.bias": b2})

    def construct(self, ctx):
        return torch.cat([self.token_prefix, ctx, self.token_suffix], dim=1)

    def forward(self, image_features=None):
        classes = self.token_prefix.shape[0]
        if self.meta_net is None:
            return self.construct(self.ctx.unsqueeze(0).expand(classes, -1, -1))
        bias = self.meta_net(image_features).unsqueeze(1)
        shifted = self.ctx.unsqueeze(0) + bias
        return torch.stack([self.construct(c.unsqueeze(0).expand(classes, -1, -1)) for c in shifted])


def coop_logits(clip, learner, encoder, images):
    image_features = clip.encode_image(images)
    text_features = encoder(learner(), learner.tokenized)
    image_features = image_features / image_features.norm(dim=-1, keepdim=True)
    text_features = text_features / text_features.norm(dim=-1, keepdim=True)
    return clip.logit_scale.exp() * image_features @ text_features.t()


def cocoop_logits(clip, learner, encoder, images):
    image_features = clip.encode_image(images)
    image_features = image_features / image_features.norm(dim=-1, keepdim=True)
    prompts = learner(image_features)
    rows = []
    for prompts_i, feature_i in zip(prompts, image_features):  # the reference's loop over the batch
        text_features = encoder(prompts_i, learner.tokenized)
        text_features = text_features / text_features.norm(dim=-1, keepdim=True)
        rows.append(clip.logit_scale.exp() * feature_i @ text_features.t())
    return torch.stack(rows)


class DeepPromptLearner(nn.Module):
    """MaPLe's MultiModalPromptLearner (coupled=True: vision prompts = one Linear per layer of the text
    prompts) or IVLP/PromptSRC's independent prompts, from the state bench_engine wrote."""

    def __init__(self, clip, tokens, state, coupled):
        super().__init__()
        self.ctx = nn.Parameter(state["ctx"].clone())
        n_ctx = self.ctx.shape[0]
        with torch.no_grad():
            embedding = clip.token_embedding(tokens)
        self.register_buffer("token_prefix", embedding[:, :1, :])
        self.register_buffer("token_suffix", embedding[:, 1 + n_ctx:, :])
        self.tokenized = tokens
        layers = sorted(int(k.split(".")[1]) for k in state if k.startswith("text_prompts."))
        self.text_prompts = nn.ParameterList([nn.Parameter(state[f"text_prompts.{l}"].clone()) for l in layers])
        self.coupled = coupled
        if coupled:
            count = len([k for k in state if k.startswith("couplers.") and k.endswith(".weight")])
            self.couplers = nn.ModuleList()
            for l in range(count):
                w = state[f"couplers.{l}.weight"]
                linear = nn.Linear(w.shape[1], w.shape[0])
                linear.load_state_dict({"weight": w, "bias": state[f"couplers.{l}.bias"]})
                self.couplers.append(linear)
        else:
            count = len([k for k in state if k.startswith("vision_prompts.")])
            self.vision = nn.ParameterList([nn.Parameter(state[f"vision_prompts.{l}"].clone()) for l in range(count)])

    def forward(self):
        classes = self.token_prefix.shape[0]
        prompts = torch.cat([self.token_prefix, self.ctx.unsqueeze(0).expand(classes, -1, -1), self.token_suffix], dim=1)
        if self.coupled:
            texts = [self.ctx] + list(self.text_prompts)
            vision = [self.couplers[l](texts[l]) for l in range(len(self.couplers))]
        else:
            vision = list(self.vision)
        return prompts, list(self.text_prompts), vision


def deep_text_features(clip, prompts, tokenized, deep):
    """All 77 positions; at layers 1..len(deep) the context rows after the start token are replaced."""
    x = (prompts + clip.positional_embedding).permute(1, 0, 2)
    for i, block in enumerate(clip.transformer.resblocks):
        if 1 <= i <= len(deep):
            n = deep[i - 1].shape[0]
            x = torch.cat([x[:1], deep[i - 1].unsqueeze(1).expand(-1, x.shape[1], -1), x[1 + n:]], dim=0)
        x = block(x)
    x = clip.ln_final(x.permute(1, 0, 2))
    return x[torch.arange(x.shape[0]), tokenized.argmax(dim=-1)] @ clip.text_projection


def prompted_image_features(visual, images, vision):
    """Vision prompts appended after the patch tokens before ln_pre; the last rows replaced at deeper layers."""
    x = visual.conv1(images)
    x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
    cls = visual.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype, device=x.device)
    x = torch.cat([cls, x], dim=1) + visual.positional_embedding.to(x.dtype)
    n = vision[0].shape[0]
    x = torch.cat([x, vision[0].unsqueeze(0).expand(x.shape[0], -1, -1)], dim=1)
    x = visual.ln_pre(x).permute(1, 0, 2)
    for i, block in enumerate(visual.transformer.resblocks):
        if 1 <= i < len(vision):
            x = torch.cat([x[:-n], vision[i].unsqueeze(1).expand(-1, x.shape[1], -1)], dim=0)
        x = block(x)
    x = x.permute(1, 0, 2)
    return visual.ln_post(x[:, 0, :]) @ visual.proj


class PromptEncoder(nn.Module):
    """P-Tuning's prompt encoder: Embedding(p, d) -> 2-layer bidirectional LSTM (d/2 per direction) -> MLP."""

    def __init__(self, state):
        super().__init__()
        length, width = state["embedding.weight"].shape
        self.embedding = nn.Embedding(length, width)
        self.lstm = nn.LSTM(width, width // 2, num_layers=2, bidirectional=True, batch_first=True)
        self.mlp_in = nn.Linear(width, width)
        self.mlp_out = nn.Linear(width, width)
        self.load_state_dict(state)

    def forward(self):
        ids = torch.arange(self.embedding.num_embeddings, device=self.embedding.weight.device)
        sequence = self.lstm(self.embedding(ids).unsqueeze(0))[0].squeeze(0)
        return self.mlp_out(torch.relu(self.mlp_in(sequence)))


def prefix_text_features(clip, tokens, prefixes):
    """Key/value prefixes [L, 2, p, d] in every text layer (the past_key_values mechanism): every position
    attends to the p prefix rows, the tokens causally; all 77 positions run. nn.MultiheadAttention's
    bias_k adds one row only, so the attention is written out with its in_proj weights."""
    x = clip.token_embedding(tokens) + clip.positional_embedding
    classes, length, width = x.shape
    p = prefixes.shape[2]
    mask = torch.cat([torch.zeros(length, p, device=x.device),
                      torch.full((length, length), float("-inf"), device=x.device).triu(1)], dim=1)
    for layer, block in enumerate(clip.transformer.resblocks):
        attn = block.attn
        heads = attn.num_heads
        q, k, v = F.linear(block.ln_1(x), attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
        k = torch.cat([prefixes[layer, 0].unsqueeze(0).expand(classes, -1, -1), k], dim=1)
        v = torch.cat([prefixes[layer, 1].unsqueeze(0).expand(classes, -1, -1), v], dim=1)
        split = lambda t: t.reshape(classes, t.shape[1], heads, width // heads).transpose(1, 2)
        weights = torch.softmax(split(q) @ split(k).transpose(-2, -1) / (width // heads) ** 0.5 + mask, dim=-1)
        context = (weights @ split(v)).transpose(1, 2).reshape(classes, length, width)
        x = x + attn.out_proj(context)
        x = x + block.mlp(block.ln_2(x))
    x = clip.ln_final(x)
    return x[torch.arange(classes), tokens.argmax(dim=-1)] @ clip.text_projection


MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


class JpegFolder(torch.utils.data.Dataset):
    """class<k>/<n>.jpg with torchvision's RandomResizedCrop + bicubic resize + flip + CLIP normalisation,
    written with PIL and numpy (torchvision is not packaged for Debian)."""

    def __init__(self, root, resolution):
        import random
        self.random = random
        self.resolution = resolution
        self.items = []
        for folder in sorted(os.listdir(root)):
            for name in sorted(os.listdir(os.path.join(root, folder))):
                self.items.append((os.path.join(root, folder, name), int(folder[len("class"):])))

    def __len__(self):
        return len(self.items)

    def crop_box(self, width, height):
        area = width * height
        for _ in range(10):
            target = area * self.random.uniform(0.08, 1.0)
            ratio = np.exp(self.random.uniform(np.log(3 / 4), np.log(4 / 3)))
            w, h = int(round((target * ratio) ** 0.5)), int(round((target / ratio) ** 0.5))
            if 0 < w <= width and 0 < h <= height:
                x, y = self.random.randint(0, width - w), self.random.randint(0, height - h)
                return x, y, x + w, y + h
        side = min(width, height)
        return (width - side) // 2, (height - side) // 2, (width + side) // 2, (height + side) // 2

    def __getitem__(self, index):
        from PIL import Image
        path, label = self.items[index]
        image = Image.open(path).convert("RGB")
        image = image.resize((self.resolution, self.resolution), Image.BICUBIC, box=self.crop_box(*image.size))
        if self.random.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        array = (np.asarray(image, dtype=np.float32) / 255.0 - MEAN) / STD
        return torch.from_numpy(array.transpose(2, 0, 1).astype(np.float32)), label


def timed(warmup, repeats, run, sync):
    for _ in range(warmup):
        run()
    sync()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        sync()
        seconds.append(time.perf_counter() - start)
    return seconds


def timed_training(forward, optimizer, repeats, sync):
    """Timed training steps (forward() -> (logits, loss), backward, optimiser step) after one warm-up; the
    first step's logits and loss are what the engine's are compared with."""
    first = {}

    def step():
        logits, loss = forward()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first.setdefault("logits", logits.detach())
        first.setdefault("loss", float(loss))

    return timed(1, repeats, step, sync), first


def frozen_clip(work, geometry, device):
    clip = CLIP(read_safetensors(os.path.join(work, f"clip-{geometry}.safetensors"))).to(device).eval()
    for p in clip.parameters():
        p.requires_grad_(False)
    return clip


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def max_diff(a, b):
    return float((a.detach().float().cpu() - b.float()).abs().max())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--task")
    parser.add_argument("--work")
    parser.add_argument("--geometry", default="b16")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--load-only")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32",
                        help="forward: autocast to this type around each run (fp32 weights), as bench_engine --precision")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize()) if device.type == "cuda" else (lambda: None)
    out = {"task": args.task or "load-only", "implementation": "pytorch", "torch": torch.__version__, "device": str(device),
           "threads": torch.get_num_threads(), "geometry": args.geometry, "repeats": args.repeats, "precision": args.precision}
    if device.type == "cuda":
        out["device_name"] = torch.cuda.get_device_name(device)
    if args.precision != "fp32" and args.task != "forward":
        sys.exit("--precision: only --task forward runs in mixed precision")

    if args.load_only:
        # What clip.load does for an OpenAI archive: torch.jit.load, then build the model from its state dict.
        def status(field):
            with open("/proc/self/status") as f:
                return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))
        baseline = status("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        archive = torch.jit.load(args.load_only, map_location="cpu")
        sd = {k: v.float() for k, v in archive.state_dict().items() if k not in ("input_resolution", "context_length", "vocab_size")}
        after_read = status("VmHWM")
        model = CLIP(sd)
        del archive, sd
        after_build = status("VmHWM")
        size = os.path.getsize(args.load_only)
        out.update(file=args.load_only, file_bytes=size, baseline_rss_bytes=baseline, read_peak_extra_bytes=after_read - baseline,
                   read_peak_ratio=(after_read - baseline) / size, build_peak_extra_bytes=after_build - baseline,
                   build_peak_ratio=(after_build - baseline) / size)
        print(json.dumps(out))
        return

    inputs = read_safetensors(os.path.join(args.work, f"{args.task}-inputs.safetensors"))
    if args.task == "coop_epoch":
        # Dassl's loop: a DataLoader with worker processes feeding CoOp's training step.
        clip = frozen_clip(args.work, args.geometry, device)
        tokens = inputs["tokens"].to(device)
        learner = PromptLearner(clip, tokens, inputs["state.ctx"].to(device)).to(device)
        encoder = TextEncoder(clip)
        optimizer = torch.optim.SGD([learner.ctx], lr=0.002, momentum=0.9, weight_decay=5e-4)
        dataset = JpegFolder(os.path.join(args.work, "epoch-images"), clip.visual.conv1.kernel_size[0] * round(
            (clip.visual.positional_embedding.shape[0] - 1) ** 0.5))
        loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch, shuffle=True, num_workers=max(1, torch.get_num_threads()),
                                             pin_memory=device.type == "cuda", drop_last=False)

        def epoch():
            for images, labels in loader:
                images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
                loss = F.cross_entropy(coop_logits(clip, learner, encoder, images), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

        seconds = timed(1, args.repeats, epoch, sync)
        out.update(images=len(dataset), classes=tokens.shape[0], batch=args.batch, loader_workers=loader.num_workers,
                   peak_rss_bytes=peak_rss_bytes(), runs_s=seconds, median_s=statistics.median(seconds))
        out["images_per_s"] = len(dataset) / out["median_s"]
        print(json.dumps(out))
        return
    if args.task == "forward":
        clip = frozen_clip(args.work, args.geometry, device)
        images = inputs["images"].to(device)
        result = {}
        autocast = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.precision)

        def forward():
            # A fresh autocast region per run, as bench_engine opens one per run.
            with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
                result.update(f=clip.encode_image(images))

        with torch.no_grad():
            seconds = timed(1, args.repeats, forward, sync)
        out["batch"] = images.shape[0]
        out["features_dtype"] = str(result["f"].dtype).replace("torch.", "")
        out["max_abs_diff"] = max_diff(result["f"], inputs["features"])
        # Two bf16 computations differ in the 3rd digit: the difference relative to the features' size.
        out["max_rel_diff"] = out["max_abs_diff"] / max(1e-12, float(inputs["features"].abs().max()))
    elif args.task in ("coop", "cocoop"):
        clip = frozen_clip(args.work, args.geometry, device)
        images, labels, tokens = inputs["images"].to(device), inputs["labels"].to(device), inputs["tokens"].to(device)
        meta = None
        if args.task == "cocoop":
            meta = [inputs[f"state.meta_net.{n}"].to(device) for n in ("linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias")]
        learner = PromptLearner(clip, tokens, inputs["state.ctx"].to(device), meta).to(device)
        encoder = TextEncoder(clip)
        optimizer = torch.optim.SGD([p for p in learner.parameters() if p.requires_grad], lr=0.002, momentum=0.9, weight_decay=5e-4)
        forward = coop_logits if args.task == "coop" else cocoop_logits
        first = {}

        def step():
            logits = forward(clip, learner, encoder, images)
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            first.setdefault("logits", logits.detach())
            first.setdefault("loss", float(loss))

        seconds = timed(1, args.repeats, step, sync)
        out.update(batch=images.shape[0], classes=tokens.shape[0], n_ctx=inputs["state.ctx"].shape[0], first_loss=first["loss"],
                   max_abs_diff=max_diff(first["logits"], inputs["logits"]), peak_rss_bytes=peak_rss_bytes())
        if device.type == "cuda":
            out["device_peak_allocated_bytes"] = torch.cuda.max_memory_allocated(device)
    elif args.task in ("prompt-tuning", "p-tuning", "prefix-tuning", "p-tuning-v2"):
        clip = frozen_clip(args.work, args.geometry, device)
        images, labels, tokens = inputs["images"].to(device), inputs["labels"].to(device), inputs["tokens"].to(device)
        state = {k[len("state."):]: v.to(device) for k, v in inputs.items() if k.startswith("state.")}
        encoder = TextEncoder(clip)
        layers, width = len(clip.transformer.resblocks), clip.ln_final.weight.shape[0]
        if args.task == "prompt-tuning":  # a soft prompt in CoOp's place
            learner = PromptLearner(clip, tokens, state["ctx"]).to(device)
            params = [learner.ctx]
            text_features = lambda: encoder(learner(), learner.tokenized)
        elif args.task == "p-tuning":
            prompt_encoder = PromptEncoder({k[len("encoder."):]: v for k, v in state.items()}).to(device)
            learner = PromptLearner(clip, tokens, torch.zeros(prompt_encoder.embedding.num_embeddings, width, device=device)).to(device)
            params = list(prompt_encoder.parameters())
            text_features = lambda: encoder(learner.construct(prompt_encoder().unsqueeze(0).expand(tokens.shape[0], -1, -1)), tokens)
        elif args.task == "prefix-tuning":  # Li & Liang's reparameterisation: Embedding -> Linear -> tanh -> Linear
            embedding = nn.Parameter(state["prefix_embedding"].clone())
            mlp_in, mlp_out = nn.Linear(width, state["mlp_in.weight"].shape[0]), nn.Linear(state["mlp_out.weight"].shape[1], layers * 2 * width)
            mlp_in.load_state_dict({"weight": state["mlp_in.weight"], "bias": state["mlp_in.bias"]})
            mlp_out.load_state_dict({"weight": state["mlp_out.weight"], "bias": state["mlp_out.bias"]})
            mlp_in, mlp_out = mlp_in.to(device), mlp_out.to(device)
            params = [embedding, *mlp_in.parameters(), *mlp_out.parameters()]
            prefixes = lambda: mlp_out(torch.tanh(mlp_in(embedding))).view(embedding.shape[0], layers, 2, width).permute(1, 2, 0, 3)
            text_features = lambda: prefix_text_features(clip, tokens, prefixes())
        else:  # P-Tuning v2: the prefixes themselves
            prefix = nn.Parameter(torch.stack([state["prefix_keys"], state["prefix_values"]], dim=1).clone())
            params = [prefix]
            text_features = lambda: prefix_text_features(clip, tokens, prefix)
        optimizer = torch.optim.SGD(params, lr=float(inputs["lr"]), momentum=0.9, weight_decay=5e-4)
        scale = clip.logit_scale.exp()

        def forward():
            image = clip.encode_image(images)
            image = image / image.norm(dim=-1, keepdim=True)
            text = text_features()
            text = text / text.norm(dim=-1, keepdim=True)
            logits = scale * image @ text.t()
            return logits, F.cross_entropy(logits, labels)

        seconds, first = timed_training(forward, optimizer, args.repeats, sync)
        out.update(batch=images.shape[0], classes=tokens.shape[0], first_loss=first["loss"],
                   max_abs_diff=max_diff(first["logits"], inputs["logits"]), peak_rss_bytes=peak_rss_bytes())
    elif args.task in ("maple", "ivlp", "promptsrc"):
        clip = frozen_clip(args.work, args.geometry, device)
        images, labels, tokens = inputs["images"].to(device), inputs["labels"].to(device), inputs["tokens"].to(device)
        state = {k[len("state."):]: v.to(device) for k, v in inputs.items() if k.startswith("state.")}
        learner = DeepPromptLearner(clip, tokens, state, coupled=args.task == "maple").to(device)
        optimizer = torch.optim.SGD(learner.parameters(), lr=float(inputs["lr"]), momentum=0.9, weight_decay=5e-4)
        teacher = inputs["teacher"].to(device) if args.task == "promptsrc" else None
        scale = clip.logit_scale.exp()

        def forward():
            prompts, deep, vision = learner()
            text = deep_text_features(clip, prompts, learner.tokenized, deep)
            text = text / text.norm(dim=-1, keepdim=True)
            image = prompted_image_features(clip.visual, images, vision)
            image = image / image.norm(dim=-1, keepdim=True)
            logits = scale * image @ text.t()
            loss = F.cross_entropy(logits, labels)
            if teacher is not None:  # PromptSRC's self-regulating terms
                with torch.no_grad():
                    frozen = clip.encode_image(images)
                    frozen = frozen / frozen.norm(dim=-1, keepdim=True)
                    zero_shot = scale * frozen @ teacher.t()
                loss = loss + 25 * F.l1_loss(text, teacher, reduction="mean") + 10 * F.l1_loss(image, frozen, reduction="mean")
                loss = loss + F.kl_div(F.log_softmax(logits, dim=1), F.log_softmax(zero_shot, dim=1), reduction="sum",
                                       log_target=True) / logits.numel()
            return logits, loss

        seconds, first = timed_training(forward, optimizer, args.repeats, sync)
        out.update(batch=images.shape[0], classes=tokens.shape[0], first_loss=first["loss"],
                   max_abs_diff=max_diff(first["logits"], inputs["logits"]), peak_rss_bytes=peak_rss_bytes())
    elif args.task == "eval":
        features, labels = inputs["features"].to(device), inputs["labels"].to(device)
        keys, values = inputs["keys"].to(device), inputs["values"].to(device)
        clip_weights = inputs["text_features"].t().to(device)
        alpha, beta = float(inputs["alpha"]), float(inputs["beta"])
        w, b = inputs["probe.classifier.weight"].to(device), inputs["probe.classifier.bias"].to(device)
        cache_keys = keys.t()
        result = {}

        def tip():  # Tip-Adapter's evaluation
            affinity = features @ cache_keys
            cache_logits = ((-1) * (beta - beta * affinity)).exp() @ values
            clip_logits = 100.0 * features @ clip_weights
            logits = clip_logits + cache_logits * alpha
            result["tip"] = logits
            result["tip_acc"] = float((logits.argmax(-1) == labels).float().mean())

        def probe():
            logits = features @ w.t() + b
            result["probe"] = logits
            result["probe_acc"] = float((logits.argmax(-1) == labels).float().mean())

        with torch.no_grad():
            seconds = timed(1, args.repeats, tip, sync)
            probe_seconds = timed(1, args.repeats, probe, sync)
        n = features.shape[0]
        out.update(features=n, classes=values.shape[1], cache=keys.shape[0], tip_accuracy=result["tip_acc"], probe_accuracy=result["probe_acc"],
                   probe_median_s=statistics.median(probe_seconds), probe_features_per_s=n / statistics.median(probe_seconds),
                   max_abs_diff=max_diff(result["tip"], inputs["tip_logits"]), probe_max_abs_diff=max_diff(result["probe"], inputs["probe_logits"]))
        out["runs_s"], out["median_s"] = seconds, statistics.median(seconds)
        out["images_per_s"] = n / out["median_s"]
        print(json.dumps(out))
        return
    else:
        sys.exit(f"unknown task {args.task}")
    out["runs_s"], out["median_s"] = seconds, statistics.median(seconds)
    out["images_per_s"] = out["batch"] / out["median_s"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
