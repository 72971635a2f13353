#!/usr/bin/python3
"""PyTorch side of `mldefense bench engine`: the same workloads as EngineBenchmark.cs, step for step.

C1 cases: MIAED's MNIST classifier C1 (PyTorch's default layer initialisation), Adam lr 1e-3, batch 128 of
random 28x28x1 images (fixed seed).
  train_step        forward, cross-entropy, zero_grad, backward, Adam step
  input_gradient    the inner loop of FGSM/PGD: input with requires_grad, forward (eval mode), cross-entropy,
                    torch.autograd.grad w.r.t. the input, x <- clamp(x + eps*sign(grad), 0, 1)
  classifier_a_train_step  train_step's step on Defense-GAN's classifier A instead of C1 (MLDefense's
                    ClassifierArchitecture.DefenseGanA, training mode: its dropouts active), same batch and Adam
AE-GAN cases: the encoder F, decoder/generator G and discriminator D of AE-GAN's Table 6 at width 64, latent 128,
batch 100 of random 28x28x1 images (MLDefense's AeGanNetworks.cs, AeGanTrainingStep.cs, AeGanPurification.cs).
  aegan_train_step  Alg. 1: D step (BCE on x and on G(z), z ~ U[-1, 1]^128), then the F and G step (non-saturating
                    GAN loss + sum ||G(F(x + N(0, 0.15^2))) - x||^2 / N), Adam 2e-4, betas (0.5, 0.999)
  aegan_purify      Alg. 2 with the search on every image: F(x), G(F(x)), the per-image L1 score, 15 steps of
                    gradient descent on ||G(z) - x||^2 from F(x) (step 0.1 halved every 5 steps; a step that raises an
                    image's distance is not taken and halves its step), G(z_L), eval mode
MIAED case: the MI dual autoencoder of Gao et al. (Table 3's MNIST networks: 3x3 same-padded convolutions 16, 16,
max-pool, 32, 32, max-pool, linear FC 64; decoder FC 7x7x32 + ReLU, up-sample, convolutions 32, 32, up-sample, 16, 16,
1 + sigmoid; no batch norm; He-normal initialisation; discriminators 256, Table 4), batch 128 of random 28x28x1 images (MLDefense's
MiaedNetworks.cs and MiaedAutoencoder.TrainStep).
  miaed_train_step  Eq. 15: reconstruction and latent-noise streams (sigma 0.1), global MI (Eq. 9) and local MI
                    (Eq. 10) Jensen-Shannon estimates, the prior-matching term (Eq. 11); one Adam step (1e-4, betas
                    (0.5, 0.999)) on E, G and the MI discriminators, then one on the WGAN-GP prior critic

The roof of the roofline, measured before the cases (not a case):
  matmul_peak       one product of two random float32 1024x1024 matrices per step, "batch" 1 (images_per_s is
                    products/s; 2 * 1024**3 FLOPs each)

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
AEGAN_BATCH = 100
AEGAN_WIDTH = 64
AEGAN_LATENT = 128
AEGAN_SIGMA = 0.15
MATMUL = 1024
MIAED_BATCH = 128
MIAED_WIDTH = 16
MIAED_LATENT = 64
MIAED_DISCRIMINATOR = 256
CASES = ("train_step", "input_gradient", "classifier_a_train_step", "aegan_train_step", "aegan_purify", "miaed_train_step")


def mnist_c1():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 5 * 5, 200), nn.ReLU(),
        nn.Linear(200, 10))


def classifier_a():
    """Defense-GAN's classifier A (MLDefense's ClassifierArchitectures.Create(DefenseGanA), layers created in its order)."""
    return nn.Sequential(
        nn.Conv2d(1, 64, 5, padding=2), nn.ReLU(), nn.Conv2d(64, 64, 5, stride=2), nn.ReLU(),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 12 * 12, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10))


class TrainStep:
    batch = BATCH

    def __init__(self, device, seed, create=mnist_c1):
        torch.manual_seed(seed)
        self.model = create().to(device).train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.x = torch.rand(BATCH, 1, 28, 28).to(device)
        self.y = torch.randint(0, 10, (BATCH,)).to(device)

    def step(self):
        loss = F.cross_entropy(self.model(self.x), self.y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()


class InputGradient:
    batch = BATCH

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


class MatmulPeak:
    batch = 1

    def __init__(self, device, seed):
        torch.manual_seed(seed)
        self.a = torch.rand(MATMUL, MATMUL).to(device)
        self.b = torch.rand(MATMUL, MATMUL).to(device)

    def step(self):
        self.a.matmul(self.b)


def aegan_trunk(outputs):
    """Table 6's encoder/discriminator trunk: three 5x5 stride-2 convolutions w, 2w, 4w with BN and LeakyReLU 0.2, FC."""
    w = AEGAN_WIDTH
    return [
        nn.Conv2d(1, w, 5, 2, 2), nn.BatchNorm2d(w), nn.LeakyReLU(0.2),
        nn.Conv2d(w, 2 * w, 5, 2, 2), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * w, 4 * w, 5, 2, 2), nn.BatchNorm2d(4 * w), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(4 * w * 4 * 4, outputs)]


def aegan_networks(device):
    """F, G and D of Table 6 for 28x28x1 images, created in that order (as EngineBenchmark.cs)."""
    w = AEGAN_WIDTH
    encoder = nn.Sequential(*aegan_trunk(AEGAN_LATENT), nn.Tanh())
    generator = nn.Sequential(
        nn.Linear(AEGAN_LATENT, 4 * w * 4 * 4), nn.BatchNorm1d(4 * w * 4 * 4), nn.ReLU(), nn.Unflatten(1, (4 * w, 4, 4)),
        nn.ConvTranspose2d(4 * w, 2 * w, 5, 2, 2, output_padding=0), nn.BatchNorm2d(2 * w), nn.ReLU(),
        nn.ConvTranspose2d(2 * w, w, 5, 2, 2, output_padding=1), nn.BatchNorm2d(w), nn.ReLU(),
        nn.ConvTranspose2d(w, 1, 5, 2, 2, output_padding=1), nn.Sigmoid())
    discriminator = nn.Sequential(*aegan_trunk(1), nn.Sigmoid())
    return encoder.to(device), generator.to(device), discriminator.to(device)


class AeGanTrainStep:
    batch = AEGAN_BATCH

    def __init__(self, device, seed):
        torch.manual_seed(seed)
        self.encoder, self.generator, self.discriminator = (n.train() for n in aegan_networks(device))
        self.x = torch.rand(AEGAN_BATCH, 1, 28, 28).to(device)
        self.device = device
        self.d_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.ae_optimizer = torch.optim.Adam(
            list(self.encoder.parameters()) + list(self.generator.parameters()), lr=2e-4, betas=(0.5, 0.999))

    def step(self):
        n = self.x.size(0)
        real = torch.ones(n, 1, device=self.device)
        fake = torch.zeros(n, 1, device=self.device)
        generated = self.generator(torch.rand(n, AEGAN_LATENT, device=self.device) * 2 - 1)
        d_loss = (F.binary_cross_entropy(self.discriminator(self.x), real)
                  + F.binary_cross_entropy(self.discriminator(generated.detach()), fake))
        self.d_optimizer.zero_grad()
        d_loss.backward()
        self.d_optimizer.step()

        g_loss = F.binary_cross_entropy(self.discriminator(generated), real)
        noisy = self.x + torch.randn_like(self.x) * AEGAN_SIGMA
        reconstruction = (self.generator(self.encoder(noisy)) - self.x).square().sum() / n
        self.ae_optimizer.zero_grad()
        (g_loss + reconstruction).backward()
        self.ae_optimizer.step()


class AeGanPurify:
    batch = AEGAN_BATCH
    steps, step_size, halving = 15, 0.1, 5

    def __init__(self, device, seed):
        torch.manual_seed(seed)
        self.encoder, self.generator, _ = (n.eval() for n in aegan_networks(device))
        self.x = torch.rand(AEGAN_BATCH, 1, 28, 28).to(device)

    def distance(self, z):
        return (self.generator(z) - self.x).square().flatten(1).sum(1)

    def distance_and_gradient(self, z):
        z = z.detach().requires_grad_(True)
        d = self.distance(z)
        (g,) = torch.autograd.grad(d.sum(), z)
        return d.detach(), g

    def step(self):
        with torch.no_grad():
            codes = self.encoder(self.x)
            reconstruction = self.generator(codes)
            (reconstruction - self.x).abs().flatten(1).mean(1).cpu()
        rows = torch.arange(self.x.size(0), device=self.x.device)
        z = codes.index_select(0, rows)
        d, g = self.distance_and_gradient(z)
        factor = torch.ones(z.size(0), 1, device=z.device)
        for t in range(self.steps):
            last = t == self.steps - 1
            with torch.no_grad():
                candidate = (z - g * factor * (self.step_size * 0.5 ** (t // self.halving))).clamp(-1, 1)
                if last:
                    cd = self.distance(candidate)
            if not last:
                cd, cg = self.distance_and_gradient(candidate)
            with torch.no_grad():
                accepted = cd.le(d)
                row = accepted.unsqueeze(1)
                z = torch.where(row, candidate, z)
                d = torch.where(accepted, cd, d)
                if not last:
                    g = torch.where(row, cg, g)
                    factor = torch.where(row, factor, factor * 0.5)
        with torch.no_grad():
            found = self.generator(z)
            index = rows.view(-1, 1, 1, 1).expand(rows.size(0), 1, 28, 28)
            reconstruction.scatter(0, index, found)


def mlp(inputs, hidden):
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))


def jensen_shannon(positive, negative):
    return (-F.softplus(-positive)).mean() - F.softplus(negative).mean()


def roll(batch):
    return torch.cat([batch[1:], batch[:1]], 0)


def he_normal(*networks):
    """MiaedInitialization.HeNormal: He-normal weights (fan in, ReLU gain) and zero biases for every conv and FC."""
    with torch.no_grad():
        for network in networks:
            for layer in network.modules():
                if isinstance(layer, (nn.Conv2d, nn.Linear)):
                    nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
                    nn.init.zeros_(layer.bias)


class MiaedTrainStep:
    batch = MIAED_BATCH
    weights = {"global": 0.01, "local": 0.01, "prior": 0.001, "reconstruction": 1.0, "noise": 1.0}

    def __init__(self, device, seed):
        torch.manual_seed(seed)
        w, d, k = MIAED_WIDTH, MIAED_DISCRIMINATOR, MIAED_LATENT
        features = 2 * w * 7 * 7
        self.convolutions = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2)).to(device)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(features, k)).to(device)
        he_normal(self.convolutions, self.head)
        self.decoder = nn.Sequential(
            nn.Linear(k, features), nn.ReLU(), nn.Unflatten(1, (2 * w, 7, 7)),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(), nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(2 * w, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1), nn.ReLU(),
            nn.Conv2d(w, 1, 3, padding=1), nn.Sigmoid()).to(device)
        he_normal(self.decoder)
        self.global_mi = mlp(k + features, d).to(device)
        self.local_mi = nn.Sequential(
            nn.Conv2d(2 * w + k, d, 1), nn.ReLU(), nn.Conv2d(d, d, 1), nn.ReLU(), nn.Conv2d(d, 1, 1)).to(device)
        self.critic = mlp(k, d).to(device)
        trained = [m for m in (self.convolutions, self.head, self.decoder, self.global_mi, self.local_mi)]
        for m in trained + [self.critic]:
            m.train()
        self.optimizer = torch.optim.Adam([p for m in trained for p in m.parameters()], lr=1e-4, betas=(0.5, 0.999))
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=1e-4, betas=(0.5, 0.999))
        self.x = torch.rand(MIAED_BATCH, 1, 28, 28).to(device)

    def step(self):
        wt = self.weights
        feature_map = self.convolutions(self.x)
        latent = self.head(feature_map)
        reconstruction = self.decoder(latent)
        reconstruction_loss = F.mse_loss(reconstruction, self.x)
        noise_loss = F.mse_loss(self.decoder(latent + torch.randn_like(latent) * 0.1), reconstruction)
        total = wt["reconstruction"] * reconstruction_loss + wt["noise"] * noise_loss

        flat = feature_map.flatten(1)
        global_mi = jensen_shannon(self.global_mi(torch.cat([latent, flat], 1)),
                                   self.global_mi(torch.cat([latent, roll(flat)], 1)))
        total = total - wt["global"] * global_mi
        global_mi.item()
        latent_map = latent.view(-1, MIAED_LATENT, 1, 1).expand(latent.size(0), MIAED_LATENT, 7, 7)
        local_mi = jensen_shannon(self.local_mi(torch.cat([feature_map, latent_map], 1)),
                                  self.local_mi(torch.cat([roll(feature_map), latent_map], 1)))
        total = total - wt["local"] * local_mi
        local_mi.item()
        prior_loss = -self.critic(latent).mean()
        total = total + wt["prior"] * prior_loss
        prior_loss.item()
        self.optimizer.zero_grad()
        total.backward()
        self.optimizer.step()

        fake = latent.detach()
        prior = torch.randn_like(fake)
        mix = torch.rand(fake.size(0), 1, device=fake.device)
        mixed = (mix * prior + (1 - mix) * fake).detach().requires_grad_(True)
        scores = self.critic(mixed)
        (gradient,) = torch.autograd.grad(scores, mixed, torch.ones_like(scores), create_graph=True)
        penalty = (gradient.flatten(1).norm(2, dim=1) - 1).square().mean()
        critic_loss = self.critic(fake).mean() - self.critic(prior).mean() + 10 * penalty
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()
        critic_loss.item()
        total.item()
        reconstruction_loss.item()
        noise_loss.item()


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
    return steps * workload.batch / (time.perf_counter() - start)


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
    workloads = {"matmul_peak": MatmulPeak(device, args.seed), "train_step": TrainStep(device, args.seed), "input_gradient": InputGradient(device, args.seed),
                 "classifier_a_train_step": TrainStep(device, args.seed, classifier_a),
                 "aegan_train_step": AeGanTrainStep(device, args.seed), "aegan_purify": AeGanPurify(device, args.seed),
                 "miaed_train_step": MiaedTrainStep(device, args.seed)}
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
    for case in ("matmul_peak",) + CASES:
        rates = [run_round(workloads[case], device, args.warmup, args.steps) for _ in range(args.rounds)]
        rows.append({"case": case, "images_per_s": statistics.median(rates), "rounds": rates})
    print(json.dumps({**header, "rows": rows}))


if __name__ == "__main__":
    main()
