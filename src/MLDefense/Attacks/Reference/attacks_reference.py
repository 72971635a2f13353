#!/usr/bin/python3
"""An independent PyTorch reference for MLDefense's attacks (run by Debian's interpreter, /usr/bin/python3,
where `apt-get install python3-torch` puts PyTorch 1.13).

It re-implements, from the papers and without any MLDefense code, three attacks:
  FGSM    Goodfellow et al. 2015, Eq. (3): x' = clip01(x + eps * sign(grad_x J(x, y)))
  PGD     Madry et al. 2018, Eq. (2), without random start:
          x_{t+1} = clip01(Proj_{|x' - x|_inf <= eps}(x_t + alpha * sign(grad_x J(x_t, y))))
  CW-L2   Carlini and Wagner 2017, Sec. V.A: x' = (tanh(w) + 1) / 2, minimise |x' - x|_2^2 + c * f(x') with Adam,
          f(x') = max(Z_y - max_{i != y} Z_i + kappa, 0) (untargeted), binary search over c, abort early.
J is the summed cross-entropy of the logits, so each image's gradient is independent of the rest of the batch.

Commands:
  fixtures  --weights W --inputs I --output O [--threads 1]
            W: a classifier's state dict as MLDefense saves it (safetensors; a C1-shaped network, any widths),
            I: "images" (U8 [N,1,28,28], pixel = byte / 255) and "labels" (I64 [N]).
            Writes O: "fgsm", "pgd", "cw" (F16 [N,1,28,28]: the adversarial images), "cw_success" (U8 [N]),
            "cw_l2" (F32 [N]) and metadata holding every attack parameter, the CW success rate and mean L2.
  bench     --weights W [--threads T --batch 128 --iterations 40 --rounds 3 --seed 1]
            PGD-`iterations` images/s on random images, one JSON line.
  serve     --weights W --inputs I --threads T [--epsilon 0.3 --step-size 0.01 --iterations 40]
            I: "images" (F32 [N,C,H,W] in [0, 1]) and "labels" (I64 [N]), attacked as one batch.
            Prints {"ready": true, "torch_version", "threads"}, then for each stdin line "pgd WARMUP RUNS" runs
            WARMUP untimed and RUNS timed PGD attacks (without random start) on the batch and prints
            {"case": "pgd", "images_per_s"}: MLDefense's attack benchmark alternates these rounds with its own.

The `safetensors` package is absent from Debian, so this script reads and writes the format itself
(an 8-byte little-endian header length, a JSON header, raw little-endian data).
"""
import argparse
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# The fixture's attack parameters; MLDefense's test reads them back from the fixture's metadata.
FGSM_EPSILON = 0.2
PGD_EPSILON = 0.2
PGD_STEP_SIZE = 0.01
PGD_ITERATIONS = 40
CW_CONFIDENCE = 0.0
CW_INITIAL_CONST = 0.1
CW_BINARY_SEARCH_STEPS = 5
CW_MAX_ITERATIONS = 100
CW_LEARNING_RATE = 0.01
CW_ABORT_EARLY = True

DTYPES = {"F32": (torch.float32, np.float32), "F16": (torch.float16, np.float16), "F64": (torch.float64, np.float64),
          "I64": (torch.int64, np.int64), "I32": (torch.int32, np.int32), "U8": (torch.uint8, np.uint8)}


# ---- safetensors ------------------------------------------------------------------------------------

def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (header_length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_length].decode("utf-8"))
    data = blob[8 + header_length:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, entry in header.items():
        torch_dtype, numpy_dtype = DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=np.dtype(numpy_dtype).newbyteorder("<")).reshape(entry["shape"])
        tensors[name] = torch.from_numpy(array.copy()).to(torch_dtype)
    return tensors, metadata


def write_safetensors(path, tensors, metadata):
    names = {v[0]: k for k, v in DTYPES.items()}
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        raw = t.numpy().astype(np.dtype(t.numpy().dtype).newbyteorder("<")).tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for chunk in chunks:
            f.write(chunk)


# ---- the classifier ---------------------------------------------------------------------------------

class C1Shaped(nn.Module):
    """MIAED's MNIST classifier C1 at any widths: Conv3x3-ReLU-MaxPool2-Conv3x3-ReLU | MaxPool2-Flatten-FC-ReLU-FC,
    with MLDefense's state-dict names (features.0, features.3, head.2, head.4)."""

    def __init__(self, state):
        super().__init__()
        c1, c0 = state["features.0.weight"].shape[:2]
        c2 = state["features.3.weight"].shape[0]
        hidden, flat = state["head.2.weight"].shape
        classes = state["head.4.weight"].shape[0]
        self.features = nn.Sequential(nn.Conv2d(c0, c1, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(c1, c2, 3), nn.ReLU())
        self.head = nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(), nn.Linear(hidden, classes))
        self.load_state_dict(state, strict=True)
        self.eval()

    def forward(self, x):
        return self.head(self.features(x))


# ---- the attacks ------------------------------------------------------------------------------------

def input_gradient(model, x, y):
    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), y, reduction="sum")
    (gradient,) = torch.autograd.grad(loss, [x])
    return gradient


def fgsm(model, x, y, epsilon):
    return torch.clamp(x + epsilon * input_gradient(model, x, y).sign(), 0.0, 1.0).detach()


def pgd_without_random_start(model, x, y, epsilon, step_size, iterations):
    low, high = x - epsilon, x + epsilon
    adversarial = x.clone()
    for _ in range(iterations):
        adversarial = adversarial + step_size * input_gradient(model, adversarial, y).sign()
        adversarial = torch.min(torch.max(adversarial, low), high)
        adversarial = torch.clamp(adversarial, 0.0, 1.0).detach()
    return adversarial


def cw_l2(model, x, y, confidence, initial_const, binary_search_steps, max_iterations, learning_rate, abort_early):
    n = x.shape[0]
    lower = [0.0] * n
    upper = [1e10] * n
    const = [initial_const] * n
    best_l2 = torch.full((n,), math.inf)
    best = x.clone()
    true_class = F.one_hot(y, model(x[:1]).shape[1]).bool()
    # The 0.999999 keeps atanh finite at pixels of exactly 0 or 1; atanh(z) = log((1 + z) / (1 - z)) / 2.
    z = (2 * x - 1) * 0.999999
    w_start = torch.log((1 + z) / (1 - z)) * 0.5
    check_every = max(max_iterations // 10, 1)
    for _ in range(binary_search_steps):
        w = w_start.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([w], lr=learning_rate)
        c = torch.tensor(const, dtype=torch.float32)
        succeeded = torch.zeros(n, dtype=torch.bool)
        previous = math.inf
        for iteration in range(max_iterations):
            adversarial = (torch.tanh(w) + 1) / 2
            l2 = (adversarial - x).square().flatten(1).sum(1)
            logits = model(adversarial)
            real = logits.gather(1, y[:, None]).squeeze(1)
            other = logits.masked_fill(true_class, -math.inf).amax(1)
            loss = (l2 + c * torch.clamp(real - other + confidence, min=0)).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                success = other - real > confidence
                succeeded |= success
                improved = success & (l2 < best_l2)
                best_l2 = torch.where(improved, l2, best_l2)
                best = torch.where(improved[:, None, None, None], adversarial, best)
            if abort_early and iteration % check_every == 0:
                if loss.item() > previous * 0.9999:
                    break
                previous = loss.item()
        for i in range(n):
            if succeeded[i]:
                upper[i] = min(upper[i], const[i])
                const[i] = (lower[i] + upper[i]) / 2
            else:
                lower[i] = max(lower[i], const[i])
                const[i] = (lower[i] + upper[i]) / 2 if upper[i] < 1e9 else const[i] * 10
    return best.detach()


# ---- commands ---------------------------------------------------------------------------------------

def make_fixtures(args):
    torch.set_num_threads(args.threads)
    weights, _ = read_safetensors(args.weights)
    model = C1Shaped(weights)
    inputs, _ = read_safetensors(args.inputs)
    x = inputs["images"].to(torch.float32) / 255
    y = inputs["labels"].to(torch.int64)

    adversarial_fgsm = fgsm(model, x, y, FGSM_EPSILON)
    adversarial_pgd = pgd_without_random_start(model, x, y, PGD_EPSILON, PGD_STEP_SIZE, PGD_ITERATIONS)
    adversarial_cw = cw_l2(model, x, y, CW_CONFIDENCE, CW_INITIAL_CONST, CW_BINARY_SEARCH_STEPS, CW_MAX_ITERATIONS,
                           CW_LEARNING_RATE, CW_ABORT_EARLY)
    with torch.no_grad():
        cw_success = model(adversarial_cw).argmax(1) != y
        cw_l2_distance = (adversarial_cw - x).flatten(1).norm(dim=1)
        clean_accuracy = (model(x).argmax(1) == y).float().mean().item()
        fgsm_accuracy = (model(adversarial_fgsm).argmax(1) == y).float().mean().item()
        pgd_accuracy = (model(adversarial_pgd).argmax(1) == y).float().mean().item()
    success_rate = cw_success.float().mean().item()
    mean_l2 = cw_l2_distance[cw_success].mean().item() if cw_success.any() else 0.0
    metadata = {
        "torch_version": torch.__version__, "threads": args.threads,
        "fgsm_epsilon": FGSM_EPSILON,
        "pgd_epsilon": PGD_EPSILON, "pgd_step_size": PGD_STEP_SIZE, "pgd_iterations": PGD_ITERATIONS,
        "cw_confidence": CW_CONFIDENCE, "cw_initial_const": CW_INITIAL_CONST,
        "cw_binary_search_steps": CW_BINARY_SEARCH_STEPS, "cw_max_iterations": CW_MAX_ITERATIONS,
        "cw_learning_rate": CW_LEARNING_RATE, "cw_abort_early": CW_ABORT_EARLY,
        "clean_accuracy": repr(clean_accuracy), "fgsm_accuracy": repr(fgsm_accuracy), "pgd_accuracy": repr(pgd_accuracy),
        "cw_success_rate": repr(success_rate), "cw_mean_l2": repr(mean_l2),
    }
    write_safetensors(args.output, {
        "fgsm": adversarial_fgsm.half(), "pgd": adversarial_pgd.half(), "cw": adversarial_cw.half(),
        "cw_success": cw_success.to(torch.uint8), "cw_l2": cw_l2_distance.float(),
    }, metadata)
    print(json.dumps({k: metadata[k] for k in ("clean_accuracy", "fgsm_accuracy", "pgd_accuracy", "cw_success_rate", "cw_mean_l2")}))


def bench(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    weights, _ = read_safetensors(args.weights)
    model = C1Shaped(weights)
    x = torch.rand(args.batch, *model.features[0].weight.shape[1:2], 28, 28)
    y = torch.randint(0, model.head[4].weight.shape[0], (args.batch,))
    pgd_without_random_start(model, x, y, 0.3, 0.01, 2)  # warm-up
    rates = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        pgd_without_random_start(model, x, y, 0.3, 0.01, args.iterations)
        rates.append(args.batch / (time.perf_counter() - start))
    print(json.dumps({"torch_version": torch.__version__, "threads": torch.get_num_threads(), "batch": args.batch,
                      "iterations": args.iterations, "images_per_s": sorted(rates)[len(rates) // 2], "rounds": rates}))


def serve(args):
    torch.set_num_threads(args.threads)
    weights, _ = read_safetensors(args.weights)
    model = C1Shaped(weights)
    inputs, _ = read_safetensors(args.inputs)
    x = inputs["images"].to(torch.float32)
    y = inputs["labels"].to(torch.int64)

    def attack():
        pgd_without_random_start(model, x, y, args.epsilon, args.step_size, args.iterations)

    print(json.dumps({"ready": True, "torch_version": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        case, warmup, runs = line.split()
        if case != "pgd":
            sys.exit(f"attacks_reference.py: unknown case {case!r} (only 'pgd')")
        for _ in range(int(warmup)):
            attack()
        start = time.perf_counter()
        for _ in range(int(runs)):
            attack()
        rate = x.shape[0] * int(runs) / (time.perf_counter() - start)
        print(json.dumps({"case": case, "images_per_s": rate}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fixtures = commands.add_parser("fixtures")
    fixtures.add_argument("--weights", required=True)
    fixtures.add_argument("--inputs", required=True)
    fixtures.add_argument("--output", required=True)
    fixtures.add_argument("--threads", type=int, default=1)
    speed = commands.add_parser("bench")
    speed.add_argument("--weights", required=True)
    speed.add_argument("--threads", type=int, default=1)
    speed.add_argument("--batch", type=int, default=128)
    speed.add_argument("--iterations", type=int, default=40)
    speed.add_argument("--rounds", type=int, default=3)
    speed.add_argument("--seed", type=int, default=1)
    served = commands.add_parser("serve")
    served.add_argument("--weights", required=True)
    served.add_argument("--inputs", required=True)
    served.add_argument("--threads", type=int, required=True)
    served.add_argument("--epsilon", type=float, default=0.3)
    served.add_argument("--step-size", type=float, default=0.01)
    served.add_argument("--iterations", type=int, default=40)
    args = parser.parse_args()
    {"fixtures": make_fixtures, "bench": bench, "serve": serve}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
