#!/usr/bin/python3
"""PyTorch side of `mldefense bench engine`: the same workloads as EngineBenchmark.cs, step for step.

Model: MIAED's MNIST classifier C1 (PyTorch's default layer initialisation), Adam lr 1e-3, batch 128 of
random 28x28x1 images (fixed seed). Cases:
  train_step      forward, cross-entropy, zero_grad, backward, Adam step
  input_gradient  the inner loop of FGSM/PGD: input with requires_grad, forward (eval mode), cross-entropy,
                  torch.autograd.grad w.r.t. the input, x <- clamp(x + eps*sign(grad), 0, 1)

Run by Debian's interpreter (/usr/bin/python3, where `apt-get install python3-torch` puts torch).

Standalone: runs every case for --rounds rounds and prints one JSON object
  {"torch_version", "threads", "device", "rows": [{"case", "images_per_s", "rounds": [...]}]}.
With --serve: builds the workloads, prints {"ready": true, ...}, then for each line "CASE WARMUP STEPS" read from
stdin runs WARMUP untimed and STEPS timed steps and prints {"case", "images_per_s"} (one JSON object a line), so a
driver can alternate rounds with another engine without paying the interpreter start-up each time.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 128
EPSILON = 8 / 255
CASES = ("train_step", "input_gradient")


def mnist_c1():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 5 * 5, 200), nn.ReLU(),
        nn.Linear(200, 10))


class TrainStep:
    def __init__(self, device, seed):
        torch.manual_seed(seed)
        self.model = mnist_c1().to(device).train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.x = torch.rand(BATCH, 1, 28, 28).to(device)
        self.y = torch.randint(0, 10, (BATCH,)).to(device)

    def step(self):
        loss = F.cross_entropy(self.model(self.x), self.y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()


class InputGradient:
    def __init__(self, device, seed):
        torch.manual_seed(seed)
        self.model = mnist_c1().to(device).eval()
        self.x_adv = torch.rand(BATCH, 1, 28, 28).to(device)
        self.y = torch.randint(0, 10, (BATCH,)).to(device)

    def step(self):
        x = self.x_adv.detach().requires_grad_(True)
        loss = F.cross_entropy(self.model(x), self.y)
        (grad,) = torch.autograd.grad(loss, x)
        with torch.no_grad():
            self.x_adv.copy_((x.detach() + EPSILON * grad.sign()).clamp(0, 1))


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_round(workload, device, warmup, steps):
    for _ in range(warmup):
        workload.step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        workload.step()
    synchronize(device)
    return steps * BATCH / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, required=True, help="intra-op threads (torch.set_num_threads)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--serve", action="store_true", help="run rounds on request, one 'CASE WARMUP STEPS' line each")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("bench_engine.py: --device cuda, but this torch has no CUDA device")
    device = torch.device(args.device)
    workloads = {"train_step": TrainStep(device, args.seed), "input_gradient": InputGradient(device, args.seed)}
    header = {"torch_version": torch.__version__, "threads": torch.get_num_threads(), "device": args.device}

    if args.serve:
        print(json.dumps({"ready": True, **header}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            case, warmup, steps = line.split()
            rate = run_round(workloads[case], device, int(warmup), int(steps))
            print(json.dumps({"case": case, "images_per_s": rate}), flush=True)
        return

    rows = []
    for case in CASES:
        rates = [run_round(workloads[case], device, args.warmup, args.steps) for _ in range(args.rounds)]
        rows.append({"case": case, "images_per_s": statistics.median(rates), "rounds": rates})
    print(json.dumps({**header, "rows": rows}))


if __name__ == "__main__":
    main()
