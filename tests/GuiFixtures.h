#pragma once

#include <QString>

namespace tunebench::test {

// Files the GUI tests share, written under `root`: a tiny CLIP as a Hugging Face folder (no vocabulary
// inside: the tests pass `vocabulary`, the demo model's, which every checkout has), a tiny ResNet CLIP, a
// tiny timm ViT, a 4-class image folder, a corrupt checkpoint and an empty dataset folder.
struct GuiFixtureFiles
{
    QString clipFolder;
    QString resnetFile;
    QString timmFile;
    QString datasetFolder;
    QString corruptCheckpoint;
    QString emptyDataset;
    QString vocabulary;
};
GuiFixtureFiles writeGuiFixtures(const QString& root);

} // namespace tunebench::test
