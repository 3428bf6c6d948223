"""Named constants from the ESRGAN paper and its reference code.

Every number the package uses that comes from a paper is defined here once,
with the place it comes from, so that code reads ``RESIDUAL_SCALE`` instead of
a bare ``0.2``.

References
----------
[ESRGAN] X. Wang et al., "ESRGAN: Enhanced Super-Resolution Generative
    Adversarial Networks", ECCV Workshops 2018, arXiv:1809.00219.
[SRGAN] C. Ledig et al., "Photo-Realistic Single Image Super-Resolution Using
    a Generative Adversarial Network", CVPR 2017.
"""
from __future__ import annotations

# --- Generator (RRDBNet), ESRGAN Sec. 3.1 and Fig. 4 -------------------------
#: Default number of feature channels of the trunk (ESRGAN Sec. 4.1: 64).
NUM_FEAT = 64
#: Default number of RRDB blocks (ESRGAN Sec. 4.1: 23).
NUM_BLOCKS = 23
#: Growth channels of each dense layer in an RDB (ESRGAN code: gc=32).
GROWTH_CHANNELS = 32
#: Residual scaling: "scaling down the residuals by multiplying a constant
#: between 0 and 1 before adding them to the main path" (ESRGAN Sec. 3.1);
#: the released models use 0.2.
RESIDUAL_SCALE = 0.2
#: "Smaller initialization": Kaiming init multiplied by 0.1 (ESRGAN Sec. 3.1,
#: supplementary: "multiplying 0.1 for all initialization parameters").
INIT_SCALE = 0.1
#: Negative slope of the LeakyReLU used in generator and discriminator.
LEAKY_SLOPE = 0.2
#: Parameter count of RRDBNet(nf=64, nb=23, gc=32) at x4 (counted, see tests).
RRDBNET_X4_PARAMS = 16_697_987

# --- Losses, ESRGAN Sec. 3.2-3.3, Eq. 3 --------------------------------------
#: Weight of the relativistic adversarial loss in L_G (ESRGAN Sec. 4.1: 5e-3).
LAMBDA_ADV = 5e-3
#: Weight of the L1 content loss in L_G (ESRGAN Sec. 4.1: 1e-2).
ETA_L1 = 1e-2
#: Perceptual layer: VGG19 conv5_4 *before* ReLU (ESRGAN Sec. 3.3).
PERCEPTUAL_LAYER = "conv5_4"
#: Index of conv5_4 in ``torchvision.models.vgg19().features``.
VGG19_CONV5_4_INDEX = 34
#: ImageNet statistics used to normalise VGG inputs in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# --- Training schedule, ESRGAN Sec. 4.1 --------------------------------------
#: PSNR-oriented stage: Adam lr 2e-4, halved every 2e5 iterations.
PSNR_LR = 2e-4
PSNR_LR_HALVING_STEP = 200_000
#: GAN stage: lr 1e-4 for G and D, halved at these iterations.
GAN_LR = 1e-4
GAN_LR_MILESTONES = (50_000, 100_000, 200_000, 300_000)
GAN_TOTAL_ITERS = 400_000
#: Adam betas (ESRGAN Sec. 4.1: beta1 = 0.9, beta2 = 0.999).
ADAM_BETAS = (0.9, 0.999)
#: Mini-batch size and HR patch size (ESRGAN Sec. 4.1).
BATCH_SIZE = 16
HR_PATCH = 128
#: Decay of the exponential moving average of G (BasicSR's ESRGAN configs).
EMA_DECAY = 0.999

# --- Discriminator, SRGAN Fig. 4 / BasicSR VGGStyleDiscriminator -------------
#: Hidden width of the discriminator's first linear layer.
DISC_HIDDEN = 100

# --- Evaluation conventions ---------------------------------------------------
#: SSIM Gaussian window (Wang et al. 2004): 11x11, sigma 1.5.
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
#: NIQE (Mittal, Soundararajan & Bovik, "Making a completely blind image quality
#: analyzer", IEEE SPL 2013; the LIVE release's computequality.m with its
#: recommended 96, 96, 0, 0): 96x96 blocks without overlap at scale 1 (48x48 at 1/2).
NIQE_BLOCK = 96
#: NIQE's local mean/contrast normalisation: fspecial('gaussian', 7, 7/6), and the
#: constant C in (I - mu) / (sigma + C).
NIQE_WINDOW = 7
NIQE_SIGMA = 7 / 6
NIQE_C = 1.0
#: Shape grid of NIQE's moment-matching (A)GGD fits: 0.2:0.001:10 (estimateaggdparam.m).
NIQE_SHAPE_MIN = 0.2
NIQE_SHAPE_MAX = 10.0
NIQE_SHAPE_STEP = 0.001

# --- Degradation and colour conventions (data pipeline, metrics) -------------
#: MATLAB imresize bicubic: Keys cubic kernel coefficient a = -0.5 and
#: support 4 taps (R. Keys, "Cubic convolution interpolation", IEEE TASSP 1981;
#: MATLAB ``imresize`` 'bicubic'). ESRGAN Sec. 4.1: LR images by MATLAB bicubic.
BICUBIC_A = -0.5
BICUBIC_SUPPORT = 4
#: ITU-R BT.601 RGB->YCbCr as MATLAB's ``rgb2ycbcr`` (RGB in [0, 1], output in
#: 0-255 units, Y in [16, 235]); the Y channel SR papers report PSNR/SSIM on.
YCBCR_OFFSET = (16.0, 128.0, 128.0)
YCBCR_MATRIX = (
    (65.481, 128.553, 24.966),
    (-37.797, -74.203, 112.0),
    (112.0, -93.786, -18.214),
)
#: HR sub-image crop size and step (BasicSR ``extract_subimages.py`` for DIV2K).
SUBIMAGE_CROP = 480
SUBIMAGE_STEP = 240

# --- Network interpolation, ESRGAN Sec. 3.4 / Fig. 9 -------------------------
#: The paper compares network and image interpolation at alpha = 0, 0.2, ..., 1
#: (alpha weights the GAN model: theta = (1 - alpha) theta_PSNR + alpha theta_GAN).
INTERP_ALPHA_STEP = 0.2

# --- PSNR-stage length (training engine) ---------------------------------------
#: Iterations of the PSNR-oriented stage: 1M in the authors' BasicSR configs
#: (train_RRDBNet_PSNR_x4.yml, total_iter 1000000); the paper gives the halving period only.
PSNR_TOTAL_ITERS = 1_000_000


# --- Published results (chapter 8 compares a reader's numbers with these) ----------
#: References: [ESRGAN] above; [PIRM] Y. Blau et al., "The 2018 PIRM challenge on
#: perceptual image super-resolution", ECCV Workshops 2018.
#: x4 PSNR (dB) / SSIM on Y with a ``scale``-pixel border crop, as published in
#: the ESRGAN paper's comparison of PSNR-oriented methods [ESRGAN].
PUBLISHED_X4: dict[str, dict[str, tuple[float, float]]] = {
    "SRCNN": {"Set5": (30.48, 0.8628), "Set14": (27.50, 0.7513), "BSD100": (26.90, 0.7101),
              "Urban100": (24.52, 0.7221), "Manga109": (27.58, 0.8555)},
    "EDSR": {"Set5": (32.46, 0.8968), "Set14": (28.80, 0.7876), "BSD100": (27.71, 0.7420),
             "Urban100": (26.64, 0.8033), "Manga109": (31.02, 0.9148)},
    "RCAN": {"Set5": (32.63, 0.9002), "Set14": (28.87, 0.7889), "BSD100": (27.77, 0.7436),
             "Urban100": (26.82, 0.8087), "Manga109": (31.22, 0.9173)},
    "RRDB (PSNR-oriented, DF2K)": {"Set5": (32.73, 0.9011), "Set14": (28.99, 0.7917), "BSD100": (27.85, 0.7455),
                                   "Urban100": (27.03, 0.8153), "Manga109": (31.66, 0.9196)},
}
#: ESRGAN's entry in the PIRM-SR 2018 challenge (test set): Perceptual Index and RMSE [PIRM, ESRGAN].
PIRM_ESRGAN = {"PI": 1.978, "RMSE": 15.30}

#: Ma et al.'s score lies in [0, 10] (higher = better); PI subtracts it from this.
MA_SCORE_MAX = 10.0
