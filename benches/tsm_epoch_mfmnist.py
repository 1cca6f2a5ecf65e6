# One training epoch of TSM on Moving-Fashion-MNIST, for weft and MMAction2 0.24.1 alike
# (benches/tsm_epoch.sh gives this same file to both): the TSM config of configs/recognition/tsm/
# at MMAction2's full ResNet-18 width (MMAction2's ResNet has no width setting, so the backbone
# is written anew), training only, on the first 320 train clips.
_base_ = ['../configs/recognition/tsm/tsm_r18_1x1x8_mfmnist_rgb.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNetTSM',
        depth=18,
        pretrained=None,
        norm_eval=False,
        shift_div=8,
        num_segments=8),
    cls_head=dict(in_channels=512))
data = dict(train=dict(ann_file='data/mfmnist/train_list_320.txt'))
total_epochs = 1
workflow = [('train', 1)]
# Past the one epoch: no evaluation in either runner (MMAction2 adds it only with --validate).
evaluation = dict(interval=100)
log_config = dict(interval=5)
load_from = None
resume_from = None
