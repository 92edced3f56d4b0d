"""The layers after the backbone: pooling of the feature map(s) and the multi-label head (one sigmoid per brand)."""

from __future__ import annotations

OUTPUT_LAYER = "brand_scores"
POOLINGS = ("avg", "avg_max")


def build_head(feature_dim: int, classes: int, dropout: float, hidden: int, l2: float = 1e-4, members: int = 1):
    """Standardise, dropout, dense ReLU, dropout, dense sigmoid: one independent score per brand.

    With members > 1, that many such heads share the standardisation and their scores are averaged
    (each member is trained on its own, see `head_members`): steadier scores from a few photos per brand."""
    import keras
    from keras import layers

    reg = keras.regularizers.L2(l2) if l2 else None
    # Frozen standardisation of the features; train.py sets its statistics from the training cache.
    norm = layers.BatchNormalization(center=False, scale=False, epsilon=1e-12, name="feature_norm")
    norm.trainable = False

    def member(suffix: str) -> list:
        return [
            layers.Dropout(dropout, name=f"head_dropout_in{suffix}"),
            layers.Dense(hidden, activation="relu", kernel_regularizer=reg, name=f"head_hidden{suffix}"),
            layers.Dropout(dropout, name=f"head_dropout{suffix}"),
            layers.Dense(classes, activation="sigmoid", kernel_regularizer=reg, name=f"{OUTPUT_LAYER}{suffix}"),
        ]

    features = keras.Input((feature_dim,), name="features")
    if members == 1:  # the layout every bundle had before ensembles: keep it so those still load
        return keras.Sequential([features, norm, *member("")], name="head")
    normalised, outputs = norm(features), []
    for index in range(members):
        x = normalised
        for layer in member(f"_{index}"):
            x = layer(x)
        outputs.append(x)
    return keras.Model(features, layers.Average(name=OUTPUT_LAYER)(outputs), name="head")


def poolers(pooling: str, maps: int) -> list:
    """Pooling layers per feature map (the last map's average pooling is named 'pooling'), then a Concatenate."""
    from keras import layers

    out = []
    for index in range(maps):
        suffix = "" if index == maps - 1 else f"_{index}"
        pools = [layers.GlobalAveragePooling2D(name=f"pooling{suffix}")]
        if pooling == "avg_max":
            pools.append(layers.GlobalMaxPooling2D(name=f"max_pooling{suffix}"))
        out.append(pools)
    return out + [layers.Concatenate(name="pooled")]
