// Tests seed TorchSharp's global random generator (torch.manual_seed) and count live tensors process-wide: test
// classes running side by side would draw from one another's sequence, so this assembly runs its tests one at a time.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
