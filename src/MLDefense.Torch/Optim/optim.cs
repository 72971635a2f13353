using MLDefense.Torch.Optim;

namespace MLDefense.Torch;

public static partial class torch
{
    /// <summary>Optimisers, as <c>torch.optim</c>.</summary>
    public static class optim
    {
        /// <summary>Stochastic gradient descent with optional (Nesterov) momentum and weight decay.</summary>
        public static Optimizer SGD(IEnumerable<Tensor> parameters, double lr, double momentum = 0, double dampening = 0, double weight_decay = 0, bool nesterov = false) =>
            Optimizer.Sgd(parameters, lr, momentum, dampening, weight_decay, nesterov);

        /// <summary>Adam (Kingma and Ba), with L2 weight decay added to the gradient.</summary>
        public static Optimizer Adam(IEnumerable<Tensor> parameters, double lr = 1e-3, (double, double)? betas = null, double eps = 1e-8, double weight_decay = 0, bool amsgrad = false) =>
            Optimizer.Adam(parameters, lr, betas ?? (0.9, 0.999), eps, weight_decay, amsgrad, decoupled: false);

        /// <summary>AdamW (Loshchilov and Hutter): decoupled weight decay, default 0.01.</summary>
        public static Optimizer AdamW(IEnumerable<Tensor> parameters, double lr = 1e-3, (double, double)? betas = null, double eps = 1e-8, double weight_decay = 1e-2, bool amsgrad = false) =>
            Optimizer.Adam(parameters, lr, betas ?? (0.9, 0.999), eps, weight_decay, amsgrad, decoupled: true);

        /// <summary>Learning-rate schedules.</summary>
        public static class lr_scheduler
        {
            /// <summary>Decay by γ every step_size epochs.</summary>
            public static StepLR StepLR(Optimizer optimizer, int step_size, double gamma = 0.1) => new(optimizer, step_size, gamma);
            /// <summary>Decay by γ at each milestone.</summary>
            public static MultiStepLR MultiStepLR(Optimizer optimizer, IEnumerable<int> milestones, double gamma = 0.1) => new(optimizer, milestones, gamma);
            /// <summary>Cosine annealing to eta_min over T_max epochs.</summary>
            public static CosineAnnealingLR CosineAnnealingLR(Optimizer optimizer, int T_max, double eta_min = 0) => new(optimizer, T_max, eta_min);
        }
    }
}
