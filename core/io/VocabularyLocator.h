// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <string>
#include <vector>

namespace tunebench {

// Where a CLIP vocabulary was found, and every place looked at (paths, some with * wildcards), in order.
struct VocabularySearch
{
    std::string found;                   // empty if none; a file (.gz or vocab.json) or a folder
    std::vector<std::string> searched;
};

// Looks for the CLIP BPE vocabulary (bpe_simple_vocab_16e6.txt.gz or a Hugging Face vocab.json +
// merges.txt pair), in this order:
//   1. explicitPath, if non-empty (it must exist, else Error; a folder must hold a vocabulary);
//   2. beside the checkpoint: in its folder (or in the checkpoint itself if it is a folder),
//      vocab.json + merges.txt, then bpe_simple_vocab_16e6.txt.gz;
//   3. $TUNEBENCH_CLIP_VOCAB (a file or a folder);
//   4. the Python packages clip and open_clip in the usual site-packages folders ($VIRTUAL_ENV,
//      $CONDA_PREFIX and its envs, ~/.local, /usr/lib/python3/dist-packages, /usr/local/lib/python3.*,
//      /usr/lib/python3.*/site-packages, ~/miniconda3 and similar when present);
//   5. the Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub,
//      ~/.cache/huggingface/hub): models--openai--clip-vit-*/snapshots/<refs/main>, then any snapshot.
// The result's found can be passed to ClipTokenizer::load().
VocabularySearch searchVocabulary(const std::string& explicitPath, const std::string& checkpointPath);

// The folder under which the fixed system locations (/usr/lib/python3/dist-packages, /usr/local/...) are
// looked at: "/" unless changed. Tests point it at an empty folder, so that a vocabulary installed on the
// machine cannot change what they see.
void setVocabularySystemRoot(const std::string& root);

// searchVocabulary(), but returns the found path or throws Error:
// "no CLIP vocabulary found; looked in: A, B, C (pass --vocab FILE or set TUNEBENCH_CLIP_VOCAB)".
std::string locateVocabulary(const std::string& explicitPath, const std::string& checkpointPath);

} // namespace tunebench
