using Microsoft.ML;
using MLDefense.Defenses;
using MLDefense.MLNet;
using MLDefense.Classifiers;

// The components ML.NET's Model.Load can rebuild, one line each: ML.NET reads these attributes from this assembly, named
// by the loader assembly recorded in each component's header, and calls ComponentLoader<T>.Create.
[assembly: LoadableClass(typeof(SaecTransformer), typeof(ComponentLoader<SaecTransformer>), null, typeof(SignatureLoadModel), "SAEC detector", SaecTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(AeGanTransformer), typeof(ComponentLoader<AeGanTransformer>), null, typeof(SignatureLoadModel), "AE-GAN purifier", AeGanTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(MiaedTransformer), typeof(ComponentLoader<MiaedTransformer>), null, typeof(SignatureLoadModel), "MIAED detector", MiaedTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(MLDefense.Classifiers.ImageClassifierTransformer), typeof(ComponentLoader<MLDefense.Classifiers.ImageClassifierTransformer>), null, typeof(SignatureLoadModel), "image classifier", MLDefense.Classifiers.ImageClassifierTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(CmagTransformer), typeof(ComponentLoader<CmagTransformer>), null, typeof(SignatureLoadModel), "CMAG detector", CmagTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(ContraNetTransformer), typeof(ComponentLoader<ContraNetTransformer>), null, typeof(SignatureLoadModel), "ContraNet detector", ContraNetTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(FeatureSqueezingTransformer), typeof(ComponentLoader<FeatureSqueezingTransformer>), null, typeof(SignatureLoadModel), "Feature Squeezing detector", FeatureSqueezingTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(MixDefenseCascadeTransformer), typeof(ComponentLoader<MixDefenseCascadeTransformer>), null, typeof(SignatureLoadModel), "MixDefense cascade", MixDefenseCascadeTransformer.LoaderSignature)]
