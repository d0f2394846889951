"""Test-only builders of the official ltx_video 0.1.2 and diffusers LTX-Video transformers from our config."""

import torch

from ltx2_core.ltxv.transformer.keys import official_to_diffusers


def official_model(config, state, dtype):
    from ltx_video.models.transformers.transformer3d import Transformer3DModel

    kwargs = {k: v for k, v in config.to_metadata().items() if k != "_class_name"}
    model = Transformer3DModel(**kwargs).to(dtype)
    model.load_state_dict({k: v.to(dtype) for k, v in state.items()}, strict=True)
    return model.eval()


def diffusers_model(config, state, dtype):
    from diffusers import LTXVideoTransformer3DModel

    model = LTXVideoTransformer3DModel(
        in_channels=config.in_channels, out_channels=config.out_channels, num_attention_heads=config.heads,
        attention_head_dim=config.head_dim, cross_attention_dim=config.cross_attention_dim,
        num_layers=config.num_layers, caption_channels=config.caption_channels, norm_eps=config.norm_eps,
        qk_norm="rms_norm_across_heads", attention_bias=True, attention_out_bias=True).to(dtype)
    model.load_state_dict({official_to_diffusers(k): v.to(dtype) for k, v in state.items()}, strict=True)
    return model.eval()


def official_forward(model, latent, positions, context, timestep, mask, skip_layer_mask=None, mode=None):
    from ltx_video.utils.skip_layer_strategy import SkipLayerStrategy

    strategy = None if mode is None else {"attention_values": SkipLayerStrategy.AttentionValues,
                                          "attention_skip": SkipLayerStrategy.AttentionSkip,
                                          "transformer_block": SkipLayerStrategy.TransformerBlock}[mode]
    with torch.no_grad():
        return model(latent, positions, encoder_hidden_states=context, timestep=timestep,
                     encoder_attention_mask=mask, skip_layer_mask=skip_layer_mask, skip_layer_strategy=strategy,
                     return_dict=False)[0]


def diffusers_forward(model, latent, positions, context, timestep, mask):
    with torch.no_grad():
        return model(hidden_states=latent, encoder_hidden_states=context, timestep=timestep * 1000.0,
                     encoder_attention_mask=mask, video_coords=positions, return_dict=False)[0]


def exact_norms(model):
    """Swap the oracle's RMSNorm modules (they take the variance in float32 whatever the dtype) for
    torch.nn.RMSNorm with the same eps and weight, so a float64 oracle computes in float64 throughout."""
    from diffusers.models.normalization import RMSNorm

    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, RMSNorm):
                weight = getattr(child, "weight", None)
                dim = weight.shape[0] if weight is not None else child.dim[0]
                exact = torch.nn.RMSNorm(dim, eps=child.eps, elementwise_affine=weight is not None,
                                         dtype=weight.dtype if weight is not None else None)
                if weight is not None:
                    exact.weight.data.copy_(weight.data)
                setattr(parent, name, exact)
    return model
