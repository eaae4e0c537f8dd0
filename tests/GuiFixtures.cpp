#include "tests/GuiFixtures.h"

#include "core/io/CheckpointWriter.h"
#include "tests/ClipVocabulary.h"
#include "tests/ModelFixtures.h"

#include <QDir>
#include <QFile>

#include <opencv2/imgcodecs.hpp>

namespace tunebench::test {

GuiFixtureFiles writeGuiFixtures(const QString& root)
{
    GuiFixtureFiles files;
    files.vocabulary = QString::fromStdString(demoVocabularyPath());
    const ModelSpec clip = tinyClipSpec();
    files.clipFolder = root + "/tiny-clip";
    writeHuggingFaceFolder(randomWeights(clip, 3), clip, files.clipFolder.toStdString());
    files.resnetFile = root + "/tiny-rn.safetensors";
    writeOpenAiSafetensors(randomWeights(tinyResNetClipSpec(), 5), files.resnetFile.toStdString());
    const ModelSpec timm = tinyTimmSpec();
    files.timmFile = root + "/tiny-vit.safetensors";
    writeTimmSafetensors(randomWeights(timm, 4), files.timmFile.toStdString());

    // Four colour classes, 8 images each: distinguishable, so training has something to learn.
    files.datasetFolder = root + "/colours";
    const char* names[] = {"red", "green", "blue", "yellow"};
    const cv::Vec3b colours[] = {cv::Vec3b(30, 30, 220), cv::Vec3b(30, 200, 30), cv::Vec3b(220, 40, 30), cv::Vec3b(20, 220, 230)};
    for (int c = 0; c < 4; ++c) {
        QDir().mkpath(files.datasetFolder + "/" + names[c]);
        for (int i = 0; i < 8; ++i) {
            cv::Mat image(36, 40, CV_8UC3);
            for (int y = 0; y < 36; ++y)
                for (int x = 0; x < 40; ++x) {
                    const int noise = ((x * 7 + y * 13 + i * 31) % 23) - 11;
                    const cv::Vec3b& base = colours[c];
                    image.at<cv::Vec3b>(y, x) = cv::Vec3b(cv::saturate_cast<uchar>(base[0] + noise), cv::saturate_cast<uchar>(base[1] - noise),
                                                          cv::saturate_cast<uchar>(base[2] + noise));
                }
            cv::imwrite(QString("%1/%2/%3.png").arg(files.datasetFolder, names[c]).arg(i).toStdString(), image);
        }
    }
    files.corruptCheckpoint = root + "/corrupt.safetensors";
    QFile corrupt(files.corruptCheckpoint);
    if (corrupt.open(QIODevice::WriteOnly))
        corrupt.write("\x10\x00\x00\x00\x00\x00\x00\x00{not json at all", 24);
    files.emptyDataset = root + "/no-images";
    QDir().mkpath(files.emptyDataset + "/cats");
    QFile note(files.emptyDataset + "/cats/readme.txt");
    if (note.open(QIODevice::WriteOnly))
        note.write("not an image\n");
    return files;
}

} // namespace tunebench::test
