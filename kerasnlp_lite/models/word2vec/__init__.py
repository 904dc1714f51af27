"""word2vec (Mikolov et al. 2013): skip-gram and CBOW with negative sampling."""

from kerasnlp_lite.models.word2vec.word2vec import NegativeSamplingLoss, Word2Vec, split_words, word_vocabulary
