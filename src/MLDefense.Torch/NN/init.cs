namespace MLDefense.Torch;

public static partial class torch
{
    public static partial class nn
    {
        /// <summary>Weight initialisers, as <c>torch.nn.init</c> (all in place, without recording gradients).</summary>
        public static class init
        {
            /// <summary>Non-linearities known to <see cref="calculate_gain"/>.</summary>
            public enum NonLinearity
            {
                /// <summary>gain 1</summary>
                Linear,
                /// <summary>gain 1</summary>
                Sigmoid,
                /// <summary>gain 5/3</summary>
                Tanh,
                /// <summary>gain √2</summary>
                ReLU,
                /// <summary>gain √(2/(1+a²))</summary>
                LeakyReLU,
            }

            /// <summary>Fan mode of the Kaiming initialisers.</summary>
            public enum FanMode
            {
                /// <summary>Preserve the variance of the forward pass.</summary>
                FanIn,
                /// <summary>Preserve the variance of the backward pass.</summary>
                FanOut,
            }

            /// <summary>The recommended gain for a non-linearity (PyTorch's table).</summary>
            public static double calculate_gain(NonLinearity nonlinearity, double param = 0.01) => nonlinearity switch
            {
                NonLinearity.Linear or NonLinearity.Sigmoid => 1,
                NonLinearity.Tanh => 5.0 / 3,
                NonLinearity.ReLU => Math.Sqrt(2),
                NonLinearity.LeakyReLU => Math.Sqrt(2.0 / (1 + param * param)),
                _ => throw new ArgumentOutOfRangeException(nameof(nonlinearity)),
            };

            /// <summary>(fan_in, fan_out) of a weight: dim 1 × receptive field, dim 0 × receptive field.</summary>
            public static (long fanIn, long fanOut) calculate_fan_in_and_fan_out(Tensor tensor)
            {
                var s = tensor.shape;
                if (s.Length < 2) throw new ArgumentException("Fan in and fan out need a tensor of at least 2 dimensions.");
                long receptive = 1;
                for (int i = 2; i < s.Length; i++) receptive *= s[i];
                return (s[1] * receptive, s[0] * receptive);
            }

            /// <summary>U(a, b).</summary>
            public static Tensor uniform_(Tensor tensor, double a = 0, double b = 1) { using var _ = no_grad(); return tensor.uniform_(a, b); }
            /// <summary>N(mean, std²).</summary>
            public static Tensor normal_(Tensor tensor, double mean = 0, double std = 1) { using var _ = no_grad(); return tensor.normal_(mean, std); }
            /// <summary>A constant.</summary>
            public static Tensor constant_(Tensor tensor, double value) { using var _ = no_grad(); return tensor.fill_(value); }
            /// <summary>Zeros.</summary>
            public static Tensor zeros_(Tensor tensor) => constant_(tensor, 0);
            /// <summary>Ones.</summary>
            public static Tensor ones_(Tensor tensor) => constant_(tensor, 1);

            /// <summary>He et al.: U(−b, b) with b = gain·√(3/fan).</summary>
            public static Tensor kaiming_uniform_(Tensor tensor, double a = 0, FanMode mode = FanMode.FanIn, NonLinearity nonlinearity = NonLinearity.LeakyReLU)
            {
                double bound = Math.Sqrt(3.0) * calculate_gain(nonlinearity, a) / Math.Sqrt(Fan(tensor, mode));
                return uniform_(tensor, -bound, bound);
            }

            /// <summary>He et al.: N(0, (gain/√fan)²).</summary>
            public static Tensor kaiming_normal_(Tensor tensor, double a = 0, FanMode mode = FanMode.FanIn, NonLinearity nonlinearity = NonLinearity.LeakyReLU) =>
                normal_(tensor, 0, calculate_gain(nonlinearity, a) / Math.Sqrt(Fan(tensor, mode)));

            /// <summary>Glorot and Bengio: U(−b, b) with b = gain·√(6/(fan_in + fan_out)).</summary>
            public static Tensor xavier_uniform_(Tensor tensor, double gain = 1)
            {
                var (fanIn, fanOut) = calculate_fan_in_and_fan_out(tensor);
                double bound = gain * Math.Sqrt(6.0 / (fanIn + fanOut));
                return uniform_(tensor, -bound, bound);
            }

            /// <summary>Glorot and Bengio: N(0, gain²·2/(fan_in + fan_out)).</summary>
            public static Tensor xavier_normal_(Tensor tensor, double gain = 1)
            {
                var (fanIn, fanOut) = calculate_fan_in_and_fan_out(tensor);
                return normal_(tensor, 0, gain * Math.Sqrt(2.0 / (fanIn + fanOut)));
            }

            private static long Fan(Tensor tensor, FanMode mode)
            {
                var (fanIn, fanOut) = calculate_fan_in_and_fan_out(tensor);
                return mode == FanMode.FanIn ? fanIn : fanOut;
            }

            /// <summary>PyTorch's default for Linear and Conv layers: kaiming_uniform_(a = √5) on the weight, U(±1/√fan_in) on the bias.</summary>
            internal static void default_layer_init(Tensor weight, Tensor? bias)
            {
                kaiming_uniform_(weight, a: Math.Sqrt(5));
                if (bias is null) return;
                var (fanIn, _) = calculate_fan_in_and_fan_out(weight);
                double bound = fanIn > 0 ? 1 / Math.Sqrt(fanIn) : 0;
                uniform_(bias, -bound, bound);
            }
        }
    }
}
