"""A tiny, randomly initialised classifier from the real classes, for fast offline tests."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from pvoice.model.config import ClassifierConfig
from pvoice.model.modeling import MultiTaskModel
from pvoice.model.predictor import Classifier
from pvoice.labels import load_taxonomy

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Enough common characters of patient comments that most test inputs are not all [UNK].
COMMON_CHARS = (
    "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学么"
    "之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动方期它头经长儿回位分爱老因很给名"
    "法间斯知世什两次使身者被高已亲其进此话常与活正感见明问力理尔点文几定本公特做外孩相西果走将月十实向声车全信重三机工物气"
    "医院护士挂号排队等检查抽血药费医保住院出院随访环境厕所停车电梯预约导诊诊疗手术治疗收退发票报告态度耐心满意差慢快谢投诉"
    "紧急错误跌倒感染红包泄露隐私威胁打骂律师媒体卫健委病房床位输液针号窗口自助机线上小程序公众号科室主任专家"
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ，。！？、：；“”（）,.!?:;()"
)


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    chars = list(dict.fromkeys(COMMON_CHARS))
    vocab = {tok: i for i, tok in enumerate(SPECIALS + chars)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")  # one token per character
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


def tiny_classifier(seed: int = 0, max_length: int = 64) -> Classifier:
    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    encoder = BertModel(BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=max_length, pad_token_id=tokenizer.pad_token_id,
    ), add_pooling_layer=False)
    labels = load_taxonomy().label_maps()
    config = ClassifierConfig(labels=labels, base_model="tiny-random", max_length=max_length,
                              window_stride=max_length // 2, model_version="tiny-random-0")
    return Classifier(MultiTaskModel(encoder, labels), tokenizer, config)


def save_tiny_classifier(directory: Path, seed: int = 0) -> Path:
    return tiny_classifier(seed).save_pretrained(directory)


def save_tiny_base(directory: Path, seed: int = 0) -> Path:
    """A tiny random encoder + tokenizer saved like any Hugging Face checkpoint, to fine-tune in tests."""
    clf = tiny_classifier(seed)
    clf.model.encoder.save_pretrained(directory)
    clf.tokenizer.save_pretrained(str(directory))
    return directory
