"""Train a tiny VQ-VAE-2 under a tf.distribute strategy and print what tests check.

``tests/nn/test_distribute.py`` runs it in fresh processes, because TensorFlow sets
its devices and its multi-worker strategy once per process::

    python -m tests.nn.distributed_training mirrored OUT
    TF_CONFIG=... python -m tests.nn.distributed_training multi_worker OUT

It prints one line of JSON: the training losses, a digest of the weights, the
largest difference between the replicas' copies of the codebooks, whether this
process is the chief, and where ``save`` wrote. Under ``mirrored`` the process
splits its CPU into two logical devices and also trains on one device, for
comparison, with batch sizes and validation sets that do not split over the two,
for the VQ-VAE-2 and for a prior, and with the adversarial loss.
"""

import hashlib
import json
import sys
from pathlib import Path


def codebook_spread(estimator, strategy) -> float:
    """Return the largest difference between two replicas' codebook entries."""
    return replica_spread(
        [v for v in estimator.model_.weights if "embeddings" in v.path], strategy
    )


def replica_spread(variables, strategy) -> float:
    """Return the largest difference between two replicas' copies of variables."""
    spread = 0.0
    for variable in variables:
        replicas = [
            value.numpy()
            for value in strategy.experimental_local_results(variable.value)
        ]
        spread = max(spread, max(abs(r - replicas[0]).max() for r in replicas))
    return float(spread)


def main(mode: str, out: Path) -> None:
    import numpy as np
    import tensorflow as tf

    if mode == "mirrored":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
    from oasisgen import PixelCNNPrior, VQVAE2Estimator
    from oasisgen.nn.distribute import is_chief

    from ..estimators.conftest import (
        TINY_PRIOR,
        TINY_VQVAE,
        make_row_codes,
        make_slices,
    )

    X = make_slices(16)
    params = {**TINY_VQVAE, "epochs": 2}
    estimator = VQVAE2Estimator(
        **params, distribute=mode, checkpoint_dir=out / "checkpoints"
    ).fit(X)
    weights = np.concatenate([w.ravel() for w in estimator.model_.get_weights()])
    saved = estimator.save(out / "model")
    strategy = estimator.model_.distribute_strategy
    report = {
        "loss": estimator.history_["loss"],
        "weights": hashlib.sha256(weights.tobytes()).hexdigest(),
        "replicas": strategy.num_replicas_in_sync,
        "codebook_spread": codebook_spread(estimator, strategy),
        "chief": is_chief(),
        "saved": None if saved is None else str(saved),
        "codes": estimator.transform(X[:4]).tolist(),
    }
    if mode == "mirrored":
        report["one_device_loss"] = VQVAE2Estimator(**params).fit(X).history_["loss"]
        # 160 slices make an "auto" batch of 5, which cannot split over 2 replicas
        auto = {**TINY_VQVAE, "batch_size": "auto", "distribute": mode}
        many = np.repeat(X[:1], 160, axis=0)
        report["auto_batch"] = VQVAE2Estimator(**auto).fit(many).batch_size_
        try:
            VQVAE2Estimator(**{**auto, "batch_size": 5}).fit(X)
        except ValueError as error:
            report["odd_batch_error"] = str(error)
        # 11 training and 5 validation images in batches of 4: the last batch
        # of each would split 2 / 1 over the replicas
        validated = VQVAE2Estimator(
            **{**TINY_VQVAE, "batch_size": 4},
            distribute=mode,
            validation_fraction=0.3,
        ).fit(X)
        report["validated_history"] = validated.history_
        # the same for a prior: 7 training and 3 validation maps in batches of 4
        prior = {**TINY_PRIOR, "distribute": mode, "batch_size": 4}
        codes = make_row_codes(10)
        fitted = PixelCNNPrior(**prior, validation_fraction=0.3).fit(codes)
        report["prior_history"] = fitted.history_
        # the patch discriminator is mirrored too, and learns in step
        adversarial = {**TINY_VQVAE, "adversarial_loss_weight": 0.1}  # 1 epoch
        mirrored = VQVAE2Estimator(**adversarial, distribute=mode).fit(X)
        report["adversarial_history"] = mirrored.history_
        report["one_device_adversarial_history"] = (
            VQVAE2Estimator(**adversarial).fit(X).history_
        )
        discriminator = mirrored.model_.discriminator.weights
        own = mirrored.model_.distribute_strategy
        report["discriminator_spread"] = replica_spread(discriminator, own)
        report["discriminator_copies"] = sorted(
            {len(own.experimental_local_results(v.value)) for v in discriminator}
        )
        try:
            PixelCNNPrior(**{**prior, "batch_size": 5}).fit(codes)
        except ValueError as error:
            report["odd_prior_batch_error"] = str(error)
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
