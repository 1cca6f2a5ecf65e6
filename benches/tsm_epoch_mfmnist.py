# One training epoch of TSM on Moving-Fashion-MNIST, for weft and MMAction2 0.24.1 alike
# (benches/tsm_epoch.sh gives this same file to both): the TSM config of
# configs/recognition/tsm/ at MMAction2's full ResNet-18 width (MMAction2's ResNet has no
# width setting), training only, on the first 320 train clips.
model = dict(
    type='Recognizer2D',
    backbone=dict(
        type='ResNetTSM',
        depth=18,
        pretrained=None,
        norm_eval=False,
        shift_div=8,
        num_segments=8),
    cls_head=dict(
        type='TSMHead',
        num_classes=8,
        in_channels=512,
        num_segments=8,
        spatial_type='avg',
        dropout_ratio=0.5,
        init_std=0.001,
        is_shift=True,
        consensus=dict(type='AvgConsensus', dim=1)),
    train_cfg=dict(),
    test_cfg=dict(average_clips='prob'))

dataset_type = 'RawframeDataset'
data_root = 'data/mfmnist/rawframes'
ann_file_train = 'data/mfmnist/train_list_320.txt'
ann_file_val = 'data/mfmnist/val_list_rawframes.txt'
img_norm_cfg = dict(mean=[72.9, 72.9, 72.9], std=[90.0, 90.0, 90.0], to_bgr=False)
# Motion to the right seen in a mirror is motion to the left.
flip_label_map = {0: 1, 1: 0, 4: 5, 5: 4, 6: 7, 7: 6}

train_pipeline = [
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(-1, 72)),
    dict(
        type='MultiScaleCrop',
        input_size=64,
        scales=(1, 0.875, 0.75, 0.66),
        random_crop=False,
        max_wh_scale_gap=1),
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5, flip_label_map=flip_label_map),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='Collect', keys=['imgs', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['imgs', 'label'])
]
val_pipeline = [
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8, test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(-1, 72)),
    dict(type='CenterCrop', crop_size=64),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='Collect', keys=['imgs', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['imgs', 'label'])
]
test_pipeline = [
    dict(
        type='SampleFrames',
        clip_len=1,
        frame_interval=1,
        num_clips=8,
        test_mode=True,
        twice_sample=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(-1, 64)),
    dict(type='ThreeCrop', crop_size=(56, 64)),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='Collect', keys=['imgs', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['imgs', 'label'])
]
data = dict(
    videos_per_gpu=16,
    workers_per_gpu=2,
    test_dataloader=dict(videos_per_gpu=4),
    train=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        data_prefix=data_root,
        pipeline=train_pipeline),
    val=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=data_root,
        test_mode=True,
        pipeline=val_pipeline),
    test=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=data_root,
        test_mode=True,
        pipeline=test_pipeline))

optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)
optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
lr_config = dict(
    policy='CosineAnnealing',
    min_lr=0,
    warmup='linear',
    warmup_by_epoch=True,
    warmup_iters=1,
    warmup_ratio=0.1)
total_epochs = 1
checkpoint_config = dict(interval=1)
log_config = dict(interval=5, hooks=[dict(type='TextLoggerHook')])
log_level = 'INFO'
workflow = [('train', 1)]
load_from = None
resume_from = None
work_dir = './work_dirs/{{ fileBasenameNoExtension }}'
seed = 0
