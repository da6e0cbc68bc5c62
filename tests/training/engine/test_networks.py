"""The StyleGAN networks: shapes, both style modes, conditioning, truncation, noise, precision."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from training.engine.checkpoint import checkpoint_metadata, load_generator, save_checkpoint
from training.engine.config import NetworkConfig
from training.engine.networks import (
    Discriminator,
    Generator,
    build_networks,
    conv_up2d,
    minibatch_stddev,
    upsample2d,
)


@pytest.mark.parametrize("resolution", [32, 64, 128, 256, 512, 1024])
def test_every_resolution_gives_images_of_that_size(resolution: int) -> None:
    # Very few channels keep 512/1024 cheap; the layer plumbing is the same as at full width.
    cfg = NetworkConfig(
        resolution=resolution, z_dim=8, w_dim=8, mapping_layers=1, channel_base=64, channel_max=4
    )
    assert cfg.num_ws == 2 * int(math.log2(resolution)) - 2
    G, D = build_networks(cfg)
    ws = G.mapping(torch.randn(2, 8))
    assert ws.shape == (2, cfg.num_ws, 8)
    assert G.synthesis.num_ws == cfg.num_ws
    img = G.synthesis(ws)
    assert img.shape == (2, 3, resolution, resolution)
    assert torch.isfinite(img).all()
    assert D(img).shape == (2, 1)


def test_256px_has_the_14_ws_of_stylegan2() -> None:
    assert NetworkConfig(resolution=256).num_ws == 14
    assert NetworkConfig(resolution=1024).num_ws == 18


@pytest.mark.parametrize("style_mode", ["modulated", "adain"])
def test_both_style_modes_train_end_to_end(tiny_config, style_mode: str) -> None:
    torch.manual_seed(0)
    G, D = build_networks(tiny_config(style_mode=style_mode))
    G.train()
    img = G(torch.randn(4, 32))
    assert img.shape == (4, 3, 32, 32)
    D(img).mean().backward()
    for name, p in list(G.named_parameters()) + list(D.named_parameters()):
        assert p.grad is not None, f"{name} received no gradient"
        assert torch.isfinite(p.grad).all(), f"{name} has a non-finite gradient"
    # Every style affine really steers the picture: its gradient is not all zero.
    affines = [n for n, p in G.named_parameters() if "affine.weight" in n]
    assert affines
    assert all(G.get_parameter(n).grad.abs().sum() > 0 for n in affines)


def test_style_modes_are_different_networks(tiny_config) -> None:
    torch.manual_seed(0)
    modulated = Generator(tiny_config(style_mode="modulated"))
    torch.manual_seed(0)
    adain = Generator(tiny_config(style_mode="adain"))
    a_keys = {k for k in modulated.state_dict() if "affine" in k}
    b_keys = {k for k in adain.state_dict() if "affine" in k}
    assert a_keys == b_keys
    # AdaIN styles produce scale and bias per output channel; modulation scales input channels.
    conv = "synthesis.blocks.1.conv1.affine.weight"
    assert adain.state_dict()[conv].shape[0] == 2 * modulated.state_dict()[conv].shape[0]


def test_training_and_inference_modulation_agree(tiny_config) -> None:
    """Training uses a batched form of the modulated conv, inference a grouped conv: same maths."""
    torch.manual_seed(0)
    G = Generator(tiny_config())
    z = torch.randn(3, 32)
    with torch.no_grad():
        train_img = G.train()(z, noise_mode="const")
        eval_img = G.eval()(z, noise_mode="const")
    assert torch.allclose(train_img, eval_img, atol=1e-4)


def test_class_conditioning_changes_the_image_and_requires_labels(tiny_config) -> None:
    torch.manual_seed(0)
    G, D = build_networks(tiny_config(num_classes=3))
    z = torch.randn(1, 32).repeat(3, 1)
    c = torch.eye(3)
    with torch.no_grad():
        img = G(z, c, noise_mode="const")
        logits = D(img, c)
    assert logits.shape == (3, 1)
    assert (img[0] - img[1]).abs().mean() > 1e-3
    assert (img[1] - img[2]).abs().mean() > 1e-3
    with pytest.raises(ValueError, match="class-conditional"):
        G(z)
    with pytest.raises(ValueError, match="class-conditional"):
        D(img)
    with pytest.raises(ValueError, match=r"c of shape \[3, 3\]"):
        G(z, torch.eye(2))


def test_unconditional_networks_refuse_labels(tiny_config) -> None:
    G, D = build_networks(tiny_config())
    with pytest.raises(ValueError, match="unconditional"):
        G(torch.randn(2, 32), torch.eye(2))
    with pytest.raises(ValueError, match="unconditional"):
        D(torch.randn(2, 3, 32, 32), torch.eye(2))


def test_psi_zero_maps_every_z_to_w_avg_and_cutoff_limits_truncation(tiny_config) -> None:
    torch.manual_seed(0)
    G = Generator(tiny_config())
    mapping = G.mapping
    z = torch.randn(8, 32)
    with torch.no_grad():
        mapping(z, update_w_avg=True)
        assert mapping.w_avg.abs().sum() > 0, "update_w_avg must move w_avg"
        ws = mapping(z, psi=0.0)
        assert torch.allclose(ws, mapping.w_avg.expand_as(ws))
        cut = mapping(z, psi=0.0, truncation_cutoff=4)
        full = mapping(z)
    assert torch.allclose(cut[:, :4], mapping.w_avg.expand(8, 4, 32))
    assert torch.equal(cut[:, 4:], full[:, 4:])


def test_w_avg_is_an_exponential_moving_average(tiny_config) -> None:
    G = Generator(tiny_config())
    z = torch.randn(16, 32)
    with torch.no_grad():
        w = G.mapping(z)[:, 0].mean(0)
        G.mapping(z, update_w_avg=True)
        assert torch.allclose(G.mapping.w_avg, 0.005 * w, atol=1e-6)  # beta 0.995, from zero
        for _ in range(3):
            G.mapping(z, update_w_avg=True)
    assert torch.allclose(G.mapping.w_avg, (1 - 0.995**4) * w, atol=1e-6)


def test_noise_modes(tiny_config) -> None:
    torch.manual_seed(0)
    G = Generator(tiny_config()).eval()
    with torch.no_grad():
        for layer in G.synthesis.noise_layers:
            layer.noise_strength.fill_(0.5)  # freshly built layers start at strength 0
        ws = G.mapping(torch.randn(2, 32))
        const_a, const_b = G.synthesis(ws, noise_mode="const"), G.synthesis(ws, noise_mode="const")
        rand_a, rand_b = G.synthesis(ws, noise_mode="random"), G.synthesis(ws, noise_mode="random")
        none = G.synthesis(ws, noise_mode="none")
    assert torch.equal(const_a, const_b)
    assert not torch.equal(rand_a, rand_b)
    assert not torch.equal(none, const_a)
    with pytest.raises(ValueError, match="noise_mode"):
        G.synthesis(ws, noise_mode="loud")


def test_const_noise_is_the_same_in_every_fresh_network(tiny_config) -> None:
    torch.manual_seed(1)
    a = Generator(tiny_config())
    torch.manual_seed(2)
    b = Generator(tiny_config())
    for la, lb in zip(a.synthesis.noise_layers, b.synthesis.noise_layers, strict=True):
        assert torch.equal(la.noise_const, lb.noise_const)


def test_wrong_input_shapes_are_explained(tiny_config) -> None:
    G, D = build_networks(tiny_config())
    with pytest.raises(ValueError, match=r"ws of shape \[N, 8, 32\]"):
        G.synthesis(torch.randn(2, 7, 32))
    with pytest.raises(ValueError, match=r"z of shape \[N, 32\]"):
        G.mapping(torch.randn(2, 16))
    with pytest.raises(ValueError, match=r"images of shape \[N, 3, 32, 32\]"):
        D(torch.randn(2, 3, 64, 64))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_runs_and_stays_close_to_float32(tiny_config, dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    G, D = build_networks(tiny_config())
    G.train()
    z = torch.randn(4, 32)
    with torch.no_grad():
        ref = G(z, noise_mode="const")
    with torch.autocast("cpu", dtype=dtype):
        img = G(z, noise_mode="const")
        logits = D(img)
    assert img.dtype == torch.float32
    assert logits.dtype == torch.float32
    assert torch.isfinite(img).all()
    assert torch.isfinite(logits).all()
    assert (img.detach() - ref).abs().mean() < 0.05 * ref.abs().mean()
    logits.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in G.parameters() if p.grad is not None)


def test_minibatch_stddev_works_for_any_batch_size() -> None:
    x = torch.randn(5, 4, 4, 4)
    y = minibatch_stddev(x, group_size=4)
    assert y.shape == (5, 5, 4, 4)
    assert torch.equal(y[:, :4], x)
    same = minibatch_stddev(torch.ones(4, 2, 4, 4), group_size=4)
    assert same[:, 2].abs().max() < 1e-3, "identical samples have ~zero spread"


def test_discriminator_sees_the_batch_spread(tiny_config) -> None:
    """The minibatch-stddev feature lets D tell a collapsed batch from a varied one."""
    torch.manual_seed(0)
    D = Discriminator(tiny_config())
    varied = torch.randn(4, 3, 32, 32)
    collapsed = varied[:1].repeat(4, 1, 1, 1)
    with torch.no_grad():
        assert not torch.allclose(D(varied)[0], D(collapsed)[0])


def test_mapping_learning_rate_multiplier_slows_its_updates(tiny_config) -> None:
    """Equalised lr: with the same optimiser step, mapping weights move lr_mult times less."""
    torch.manual_seed(0)
    G = Generator(tiny_config(mapping_lr_mult=0.01))
    layer = G.mapping.layers[0]
    before = (layer.weight * layer.weight_gain).detach().clone()
    opt = torch.optim.Adam([layer.weight], lr=0.1)
    G.mapping(torch.randn(4, 32)).sum().backward()
    opt.step()
    change = ((layer.weight * layer.weight_gain).detach() - before).abs().mean()
    # Adam's first step moves each stored weight by ~lr; the effective change is lr*gain.
    assert change == pytest.approx(0.1 * layer.weight_gain, rel=0.05)
    assert layer.weight_gain == pytest.approx(0.01 / math.sqrt(32))


def test_config_round_trip_and_validation() -> None:
    cfg = NetworkConfig(resolution=64, style_mode="adain", num_classes=4)
    assert NetworkConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="resolution=48"):
        NetworkConfig(resolution=48)
    with pytest.raises(ValueError, match="resolution=2048"):
        NetworkConfig(resolution=2048)
    with pytest.raises(ValueError, match="style_mode='stylegan3'"):
        NetworkConfig(style_mode="stylegan3")
    with pytest.raises(ValueError, match="num_classes"):
        NetworkConfig(num_classes=-1)
    with pytest.raises(ValueError, match="unknown key"):
        NetworkConfig.from_dict({**cfg.to_dict(), "fancy": 1})


def test_channel_schedule_follows_base_and_max() -> None:
    cfg = NetworkConfig(resolution=256, channel_base=16384, channel_max=512)
    assert [cfg.channels_at(r) for r in (4, 32, 64, 128, 256)] == [512, 512, 256, 128, 64]
    G = Generator(NetworkConfig(resolution=64, z_dim=8, w_dim=8, channel_base=512, channel_max=16))
    assert [b.conv1.out_channels for b in G.synthesis.blocks] == [16, 16, 16, 16, 8]


def test_stylegan2_upsampling_conv_is_the_resize_conv_at_a_quarter_of_the_cost() -> None:
    """The transposed stride-2 conv + [1,3,3,1] blur computes, away from the border, exactly the
    legacy layer (bilinear 2x, then a 3x3 at the output resolution), per sample and grouped."""
    torch.manual_seed(1)
    x = torch.randn(2, 5, 8, 8, dtype=torch.float64)
    w = torch.randn(7, 5, 3, 3, dtype=torch.float64)
    new = conv_up2d(x, w)
    old = F.conv2d(upsample2d(x), w, padding=1)
    assert new.shape == old.shape == (2, 7, 16, 16)
    assert torch.allclose(new[..., 2:-2, 2:-2], old[..., 2:-2, 2:-2], atol=1e-12)
    assert not torch.allclose(new, old)  # zero padding at the border, as in StyleGAN2
    wg = torch.randn(2 * 7, 5, 3, 3, dtype=torch.float64)
    grouped = conv_up2d(x.reshape(1, 10, 8, 8), wg, groups=2).reshape(2, 7, 16, 16)
    assert torch.allclose(grouped, torch.cat([conv_up2d(x[:1], wg[:7]), conv_up2d(x[1:], wg[7:])]))


@pytest.mark.parametrize("resampling", ["stylegan2", "legacy"])
def test_both_resamplings_train_and_their_inference_forms_agree(tiny_config, resampling: str) -> None:
    torch.manual_seed(0)
    G, D = build_networks(tiny_config(resampling=resampling))
    z = torch.randn(3, 32)
    with torch.no_grad():
        assert torch.allclose(G.train()(z, noise_mode="const"), G.eval()(z, noise_mode="const"), atol=1e-4)
    img = G.train()(z)
    D(img).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in G.synthesis.parameters())


def test_the_two_resamplings_are_different_networks_of_the_same_shape(tiny_config) -> None:
    torch.manual_seed(0)
    G_new, D_new = build_networks(tiny_config())
    torch.manual_seed(0)
    G_old, D_old = build_networks(tiny_config(resampling="legacy"))
    assert {k: v.shape for k, v in G_new.state_dict().items()} == {
        k: v.shape for k, v in G_old.state_dict().items()
    }
    G_old.load_state_dict(G_new.state_dict())
    D_old.load_state_dict(D_new.state_dict())
    z = torch.randn(2, 32)
    with torch.no_grad():
        assert not torch.allclose(G_new.eval()(z, noise_mode="none"), G_old.eval()(z, noise_mode="none"))
        img = torch.randn(2, 3, 32, 32)
        assert not torch.allclose(D_new(img), D_old(img))
    with pytest.raises(ValueError, match="resampling"):
        NetworkConfig(resampling="nearest")


def test_checkpoints_from_before_resampling_existed_load_as_legacy(tiny_config, tmp_path) -> None:
    """A checkpoint saved before the option existed (its config has no `resampling` key, as in the
    40-kimg demo models published before it) must still paint exactly as it was trained."""
    torch.manual_seed(0)
    G_old, _ = build_networks(tiny_config(resampling="legacy"))
    network = G_old.config.to_dict()
    del network["resampling"]
    path = tmp_path / "old.pt"
    save_checkpoint(
        path, {"G_ema": G_old.state_dict(), "meta": {"config": {"network": network}, "kimg": 40.0}}
    )
    assert "resampling" not in json.loads(path.with_suffix(".json").read_text())["config"]["network"]
    G = load_generator(path)
    assert G.config.resampling == "legacy"
    assert checkpoint_metadata(path)["config"]["network"]["resampling"] == "legacy"
    z = torch.randn(2, G.config.z_dim)
    with torch.no_grad():
        assert torch.equal(G(z, noise_mode="none"), G_old.eval()(z, noise_mode="none"))


def test_a_filter_first_made_while_painting_can_be_trained_through():
    # The blur filters are cached per device and dtype; the gallery paints under
    # inference_mode, and a worker may train in the same process afterwards.
    from training.engine import networks

    networks.clear_filters()
    G, _ = build_networks(NetworkConfig(resolution=32, z_dim=8, w_dim=8, mapping_layers=1, channel_base=64))
    with torch.inference_mode():
        G(torch.randn(2, 8))
    G(torch.randn(2, 8)).square().mean().backward()
    assert all(p.grad is not None for p in G.synthesis.parameters() if p.requires_grad)


def test_compiled_passes_take_the_cached_filters_as_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Traced through an lru_cache, the compiled G and D rebuilt every blur filter on the host
    # and copied it to the device on each call; taken from the filter dict, it is a graph input.
    from training.engine import networks
    from training.engine.loss import StyleGANLoss

    graphs: list[str] = []

    def capture(gm: torch.fx.GraphModule, example_inputs: list[torch.Tensor]):
        graphs.append(gm.code)
        return gm.forward

    original = torch.compile
    monkeypatch.setattr(torch, "compile", lambda module: original(module, backend=capture))
    networks.clear_filters()
    cfg = NetworkConfig(resolution=32, z_dim=8, w_dim=8, mapping_layers=1, channel_base=64, channel_max=16)
    G, D = build_networks(cfg)
    loss = StyleGANLoss(G, D)
    loss.compile_main()
    loss.g_main(torch.randn(2, 8), None).backward()
    assert len(graphs) >= 2, "G and D each make a graph"
    assert not [code for code in graphs if "torch.tensor(" in code]
    assert all("_filters" in code.lower() for code in graphs)
