// The threaded image loader: batches from IDX and folder datasets, equality with the single-image
// transforms, determinism across thread counts and runs, corrupt images, and shutdown mid-epoch.

#include "core/Error.h"
#include "core/Utf8Path.h"
#include "core/data/DatasetLayouts.h"
#include "core/data/ImageBatchSource.h"
#include "core/data/ImagePreprocess.h"

#include <QtTest>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <thread>

using namespace tunebench;
namespace fs = std::filesystem;

namespace {

void writeBigEndian32(std::string& out, std::uint32_t value)
{
    for (int shift = 24; shift >= 0; shift -= 8)
        out += char((value >> shift) & 0xff);
}

void writeBytes(const fs::path& file, const std::string& bytes)
{
    fs::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary);
    out << bytes;
}

// An uncompressed IDX dataset: `count` train images of 6 x 5 with labels i % 3, 4 test images.
void writeIdxDataset(const fs::path& folder, std::uint32_t count)
{
    auto images = [](std::uint32_t n, int offset) {
        std::string bytes;
        writeBigEndian32(bytes, 0x00000803);
        writeBigEndian32(bytes, n);
        writeBigEndian32(bytes, 6);
        writeBigEndian32(bytes, 5);
        for (std::uint32_t i = 0; i < n * 30; ++i)
            bytes += char((i * 37 + offset) % 256);
        return bytes;
    };
    auto labels = [](std::uint32_t n) {
        std::string bytes;
        writeBigEndian32(bytes, 0x00000801);
        writeBigEndian32(bytes, n);
        for (std::uint32_t i = 0; i < n; ++i)
            bytes += char(i % 3);
        return bytes;
    };
    writeBytes(folder / "train-images-idx3-ubyte", images(count, 0));
    writeBytes(folder / "train-labels-idx1-ubyte", labels(count));
    writeBytes(folder / "t10k-images-idx3-ubyte", images(4, 11));
    writeBytes(folder / "t10k-labels-idx1-ubyte", labels(4));
    writeBytes(folder / "classes.txt", "zero\none\ntwo\n");
}

// Textured RGB content, so that crops, resizes and flips all change the numbers.
cv::Mat texturedImage(int width, int height, int seed)
{
    cv::Mat rgb(height, width, CV_8UC3);
    std::mt19937 random(static_cast<unsigned>(seed));
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            rgb.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<std::uint8_t>(x * 9 + seed * 40),
                                                static_cast<std::uint8_t>(y * 7 + (random() % 32)),
                                                static_cast<std::uint8_t>((x * y + seed) % 256));
    return rgb;
}

void writeImage(const fs::path& file, int width, int height, int seed)
{
    fs::create_directories(file.parent_path());
    cv::Mat bgr;
    cv::cvtColor(texturedImage(width, height, seed), bgr, cv::COLOR_RGB2BGR);
    QVERIFY2(cv::imwrite(utf8(file), bgr), utf8(file).c_str());
}

struct FolderFixture
{
    std::shared_ptr<DatasetIndex> dataset = std::make_shared<DatasetIndex>();
    std::vector<Sample> samples;
    std::int64_t corruptIndex = -1;
    std::int64_t nonAsciiIndex = -1;
    std::string corruptPath;
};

// 11 samples in 3 classes: PNG and JPEG files of different sizes, one corrupt JPEG (position 5) and one
// file under a non-ASCII path (position 9).
FolderFixture writeFolderDataset(const fs::path& root)
{
    FolderFixture fixture;
    fixture.dataset->name = "tiny-folder";
    fixture.dataset->layout = "folder";
    fixture.dataset->root = utf8(root);
    fixture.dataset->classNames = {"cat", "dog", "bird"};
    for (int i = 0; i < 11; ++i) {
        const int label = i % 3;
        fs::path file;
        if (i == 5) {
            file = root / "dog" / "broken.jpg";
            writeBytes(file, std::string("\xFF\xD8\xFF\xE0 this is not really a JPEG", 30));
            fixture.corruptIndex = i;
            fixture.corruptPath = utf8(file);
        } else if (i == 9) {
            file = root / pathFromUtf8("chat_\u00e9t\u00e9") / pathFromUtf8("\u00f1and\u00fa \u732b.png");
            writeImage(file, 23, 31, i);
            fixture.nonAsciiIndex = i;
        } else {
            const bool jpeg = i % 2 == 1;
            file = root / fixture.dataset->classNames[static_cast<size_t>(label)]
                   / ("image" + std::to_string(i) + (jpeg ? ".jpg" : ".png"));
            writeImage(file, 20 + 3 * i, 17 + 2 * i, i);
        }
        fixture.samples.push_back(Sample{utf8(file), -1, label});
    }
    return fixture;
}

std::vector<Batch> drain(ImageBatchSource& source)
{
    std::vector<Batch> batches;
    while (auto batch = source.next())
        batches.push_back(std::move(*batch));
    return batches;
}

at::Tensor evalTensor(const cv::Mat& rgb, const EvalTransform& transform)
{
    auto out = torch::empty({3, transform.resolution, transform.resolution}, torch::kFloat);
    transform.apply(rgb, out.data_ptr<float>());
    return out;
}

cv::Mat idxRgb(const IdxImages& images, std::int64_t index)
{
    cv::Mat gray(images.rows, images.cols, CV_8UC1, const_cast<std::uint8_t*>(images.image(index)));
    cv::Mat rgb;
    cv::cvtColor(gray, rgb, cv::COLOR_GRAY2RGB);
    return rgb;
}

void compareBatches(const std::vector<Batch>& a, const std::vector<Batch>& b)
{
    QCOMPARE(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        QCOMPARE(a[i].indices, b[i].indices);
        QVERIFY(torch::equal(a[i].labels, b[i].labels));
        QVERIFY2(torch::equal(a[i].inputs, b[i].inputs), ("batch " + std::to_string(i) + " differs").c_str());
    }
}

std::vector<std::int64_t> allIndices(const std::vector<Batch>& batches)
{
    std::vector<std::int64_t> indices;
    for (const Batch& batch : batches)
        indices.insert(indices.end(), batch.indices.begin(), batch.indices.end());
    return indices;
}

fs::path tempPath(const QTemporaryDir& dir)
{
    return pathFromUtf8(dir.path().toStdString());
}

} // namespace

class TestLoader : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void idxBatchesMatchEvalTransform();
    void folderBatchesSkipCorruptImages();
    void trainBatchesAreDeterministic();
    void everyImageCorruptEndsTheEpoch();
    void destructionMidEpochDoesNotHang();
    void throughputAndOptions();
    void imagesOverThePixelLimitAreRefusedFromTheirHeader();
};

// Issue 32 (15): memory grows with pixels, not file size. The header of every format OpenCV decodes here gives the size;
// an image over the limit is refused before decoding, naming its size and the limit.
void TestLoader::imagesOverThePixelLimitAreRefusedFromTheirHeader()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const cv::Mat image(20, 30, CV_8UC3, cv::Scalar(10, 200, 30));
    int formats = 0;
    // Every format OpenCV writes here (EXR only with OPENCV_IO_ENABLE_OPENEXR): each header gives the size.
    for (const char* extension : {".png", ".jpg", ".bmp", ".webp", ".tif", ".ppm", ".pgm", ".pam", ".sr", ".hdr", ".jp2", ".pfm"}) {
        const std::string path = (tempPath(temporary) / (std::string("wide") + extension)).string();
        if (!cv::haveImageWriter(path))
            continue;
        const bool floats = std::string(extension) == ".hdr" || std::string(extension) == ".pfm";
        cv::Mat written = image;
        if (floats)
            image.convertTo(written, CV_32FC3, 1.0 / 255);
        if (std::string(extension) == ".pgm")
            cv::cvtColor(image, written, cv::COLOR_BGR2GRAY);
        try {
            if (!cv::imwrite(path, written))
                continue;
        } catch (const cv::Exception&) {
            continue;
        }
        ++formats;
        std::ifstream in(path, std::ios::binary);
        const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
        const auto size = imageHeaderSize(bytes);
        QVERIFY2(size && size->first == 30 && size->second == 20, path.c_str());
        setMaxImagePixels(599);
        QString refused;
        try {
            decodeImage(path);
        } catch (const Error& e) {
            refused = e.what();
        }
        QVERIFY2(refused.contains(QString::fromStdString(path)) && refused.contains("30 x 20 pixels, over the limit of 599"),
                 qPrintable(refused));
        setMaxImagePixels(600);
        QCOMPARE(decodeImage(path).cols, 30);
    }
    QVERIFY(formats >= 8);
    // OpenJPEG does not write an image as small as that; a JP2 file's size is in its jp2h box.
    setMaxImagePixels(0);
    const std::string jp2 = (tempPath(temporary) / "square.jp2").string();
    if (cv::haveImageWriter(jp2) && cv::imwrite(jp2, cv::Mat(256, 320, CV_8UC3, cv::Scalar(1, 2, 3)))) {
        std::ifstream in(jp2, std::ios::binary);
        const auto size = imageHeaderSize(std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), {}));
        QVERIFY2(size && size->first == 320 && size->second == 256, jp2.c_str());
        QCOMPARE(decodeImage(jp2).cols, 320);
    }
    setMaxImagePixels(0);
    QCOMPARE(maxImagePixels(), kDefaultMaxImagePixels);

    // A PNG whose header claims 20000 x 20000 (a 1 MB file can): refused by the header, under the default.
    const std::uint8_t header[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                   0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20, 8, 2, 0, 0, 0, 0, 0, 0, 0, 0};
    QString refused;
    try {
        decodeImage(std::vector<std::uint8_t>(std::begin(header), std::end(header)), "huge.png");
    } catch (const Error& e) {
        refused = e.what();
    }
    QVERIFY2(refused.contains("huge.png") && refused.contains("20000 x 20000 pixels, over the limit of 50000000"), qPrintable(refused));

    // The same claim in the other formats OpenCV decodes, written by hand: a few bytes of header each.
    auto bytesOf = [](const std::string& text) { return std::vector<std::uint8_t>(text.begin(), text.end()); };
    // 20000 = 0x4E20; TIFF: an IFD of two LONG entries, ImageWidth (256) and ImageLength (257).
    const std::vector<std::uint8_t> tiffLittle = {'I', 'I', 42, 0, 8, 0, 0, 0, 2, 0, 0x00, 0x01, 4, 0, 1, 0, 0, 0, 0x20, 0x4E, 0, 0,
                                                  0x01, 0x01, 4, 0, 1, 0, 0, 0, 0x20, 0x4E, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    const std::vector<std::uint8_t> tiffBig = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 2, 0x01, 0x00, 0, 3, 0, 0, 0, 1, 0x4E, 0x20, 0, 0,
                                               0x01, 0x01, 0, 3, 0, 0, 0, 1, 0x4E, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    std::vector<std::uint8_t> sunRaster = {0x59, 0xA6, 0x6A, 0x95, 0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20, 0, 0, 0, 24};
    sunRaster.resize(64, 0);
    std::vector<std::uint8_t> codestream = {0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0, 0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20};
    codestream.resize(64, 0);
    std::vector<std::uint8_t> exr = {0x76, 0x2F, 0x31, 0x01, 2, 0, 0, 0};
    for (const std::string& text : {std::string("dataWindow"), std::string("box2i")})
        exr.insert(exr.end(), text.c_str(), text.c_str() + text.size() + 1);
    for (const std::uint8_t byte : {16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1F, 0x4E, 0, 0, 0x1F, 0x4E, 0, 0, 0})
        exr.push_back(byte);
    const std::vector<std::pair<std::string, std::vector<std::uint8_t>>> claims = {
        {"huge.ppm", bytesOf("P6\n# a comment\n20000 20000\n255\n" + std::string(64, '\0'))},
        {"huge.pgm", bytesOf("P5 20000\t20000 255 " + std::string(64, '\0'))},
        {"huge.pam", bytesOf("P7\nWIDTH 20000\nHEIGHT 20000\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n" + std::string(64, '\0'))},
        {"huge.pfm", bytesOf("PF\n20000 20000\n-1.0\n" + std::string(64, '\0'))},
        {"huge.hdr", bytesOf("#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 20000 +X 20000\n" + std::string(64, '\0'))},
        {"huge.tif", tiffLittle},
        {"huge-big-endian.tif", tiffBig},
        {"huge.sr", sunRaster},
        {"huge.j2k", codestream},
        {"huge.exr", exr},
    };
    for (const auto& [name, bytes] : claims) {
        const auto size = imageHeaderSize(bytes);
        QVERIFY2(size && size->first == 20000 && size->second == 20000, name.c_str());
        QString claimRefused;
        try {
            decodeImage(bytes, name);
        } catch (const Error& e) {
            claimRefused = e.what();
        }
        QVERIFY2(claimRefused.contains(QString::fromStdString(name)) && claimRefused.contains("20000 x 20000 pixels, over the limit"),
                 qPrintable(claimRefused));
    }
    // A format without a size in a header this build reads (DICOM: 128 bytes, then "DICM") is not decoded at all.
    std::vector<std::uint8_t> dicom(128, 0);
    for (const char c : std::string("DICM"))
        dicom.push_back(static_cast<std::uint8_t>(c));
    dicom.resize(512, 0);
    QVERIFY(!imageHeaderSize(dicom));
    QString unknown;
    try {
        decodeImage(dicom, "scan.dcm");
    } catch (const Error& e) {
        unknown = e.what();
    }
    QVERIFY2(unknown.contains("scan.dcm") && unknown.contains("header gives no image size"), qPrintable(unknown));
}

void TestLoader::idxBatchesMatchEvalTransform()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const fs::path folder = tempPath(temporary) / "idx";
    writeIdxDataset(folder, 30);
    auto dataset = std::make_shared<const DatasetIndex>(openIdxDataset(utf8(folder)));
    QCOMPARE(dataset->train.size(), size_t(27)); // 10% held out as val

    ImagePipeline pipeline;
    pipeline.eval.resolution = 4;
    LoaderOptions options;
    options.batchSize = 8;
    options.threads = 2;
    options.prefetchBatches = 1;
    ImageBatchSource source(dataset, dataset->train, pipeline, options);
    QCOMPARE(source.sampleCount(), std::int64_t(27));
    QCOMPARE(source.batchesPerEpoch(), std::int64_t(4));

    source.startEpoch(0);
    const std::vector<Batch> batches = drain(source);
    QCOMPARE(batches.size(), size_t(4));
    const std::vector<std::int64_t> sizes = {8, 8, 8, 3};
    std::int64_t position = 0;
    for (size_t b = 0; b < batches.size(); ++b) {
        const Batch& batch = batches[b];
        QCOMPARE(batch.inputs.sizes().vec(), (std::vector<std::int64_t>{sizes[b], 3, 4, 4}));
        QCOMPARE(batch.inputs.scalar_type(), torch::kFloat);
        QCOMPARE(batch.labels.scalar_type(), torch::kLong);
        QCOMPARE(batch.labels.size(0), sizes[b]);
        for (std::int64_t i = 0; i < sizes[b]; ++i, ++position) {
            QCOMPARE(batch.indices[static_cast<size_t>(i)], position); // no shuffle: list order
            const Sample& sample = dataset->train[static_cast<size_t>(position)];
            QCOMPARE(batch.labels[i].item<std::int64_t>(), std::int64_t(sample.label));
            const at::Tensor expected = evalTensor(idxRgb(*dataset->idxTrain, sample.idxIndex), pipeline.eval);
            QVERIFY(torch::equal(batch.inputs[i], expected));
        }
    }
    QCOMPARE(source.skippedCount(), std::int64_t(0));

    // The test split reads the other IDX file.
    ImageBatchSource test(dataset, dataset->test, pipeline, options);
    const std::vector<Batch> testBatches = drain(test); // next() without startEpoch: epoch 0
    QCOMPARE(testBatches.size(), size_t(1));
    QCOMPARE(testBatches[0].inputs.size(0), std::int64_t(4));
    QVERIFY(torch::equal(testBatches[0].inputs[3], evalTensor(idxRgb(*dataset->idxTest, 3), pipeline.eval)));
    QVERIFY(!torch::equal(testBatches[0].inputs[3], batches[0].inputs[3]));

    // dropLast leaves out the incomplete batch.
    options.dropLast = true;
    ImageBatchSource dropping(dataset, dataset->train, pipeline, options);
    QCOMPARE(dropping.batchesPerEpoch(), std::int64_t(3));
    QCOMPARE(allIndices(drain(dropping)).size(), size_t(24));
}

void TestLoader::folderBatchesSkipCorruptImages()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    FolderFixture fixture = writeFolderDataset(tempPath(temporary) / "folder");
    ImagePipeline pipeline;
    pipeline.eval.resolution = 16;
    LoaderOptions options;
    options.batchSize = 4;
    options.threads = 3;
    ImageBatchSource source(fixture.dataset, fixture.samples, pipeline, options);
    QCOMPARE(source.batchesPerEpoch(), std::int64_t(3));

    source.startEpoch(0);
    std::vector<Batch> batches = drain(source);
    // The corrupt image (position 5) makes the second batch one smaller; the others keep their samples.
    QCOMPARE(batches.size(), size_t(3));
    QCOMPARE(batches[0].inputs.size(0), std::int64_t(4));
    QCOMPARE(batches[1].inputs.size(0), std::int64_t(3));
    QCOMPARE(batches[2].inputs.size(0), std::int64_t(3));
    QCOMPARE(batches[1].indices, (std::vector<std::int64_t>{4, 6, 7}));
    QCOMPARE(batches[1].labels.size(0), std::int64_t(3));
    bool sawNonAscii = false;
    for (const Batch& batch : batches) {
        QCOMPARE(batch.inputs.sizes().vec(), (std::vector<std::int64_t>{batch.labels.size(0), 3, 16, 16}));
        for (size_t i = 0; i < batch.indices.size(); ++i) {
            const Sample& sample = fixture.samples[static_cast<size_t>(batch.indices[i])];
            QCOMPARE(batch.labels[static_cast<std::int64_t>(i)].item<std::int64_t>(), std::int64_t(sample.label));
            const at::Tensor expected = evalTensor(decodeImage(sample.path), pipeline.eval);
            QVERIFY2(torch::equal(batch.inputs[static_cast<std::int64_t>(i)], expected), sample.path.c_str());
            sawNonAscii = sawNonAscii || batch.indices[i] == fixture.nonAsciiIndex;
        }
    }
    QVERIFY(sawNonAscii);

    QCOMPARE(source.skippedCount(), std::int64_t(1));
    std::vector<std::string> problems = source.problems();
    QCOMPARE(problems.size(), size_t(1));
    QVERIFY2(problems[0].rfind(fixture.corruptPath + ": ", 0) == 0, problems[0].c_str());
    QVERIFY2(problems[0].find("truncated") != std::string::npos, problems[0].c_str());

    // A second epoch skips it again but reports it once.
    source.startEpoch(1);
    QCOMPARE(allIndices(drain(source)).size(), size_t(10));
    QCOMPARE(source.skippedCount(), std::int64_t(1));
    QCOMPARE(source.problems().size(), size_t(1));
}

void TestLoader::trainBatchesAreDeterministic()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    FolderFixture fixture = writeFolderDataset(tempPath(temporary) / "folder");
    fixture.samples.erase(fixture.samples.begin() + fixture.corruptIndex);

    ImagePipeline pipeline;
    TrainTransform train;
    train.resolution = 12;
    pipeline.train = train;
    auto run = [&](int threads, int prefetch, std::uint64_t seed, std::int64_t epoch) {
        LoaderOptions options;
        options.batchSize = 3;
        options.shuffle = true;
        options.threads = threads;
        options.prefetchBatches = prefetch;
        options.seed = seed;
        ImageBatchSource source(fixture.dataset, fixture.samples, pipeline, options);
        source.startEpoch(epoch);
        return drain(source);
    };

    const std::vector<Batch> oneThread = run(1, 4, 5, 0);
    QCOMPARE(oneThread.size(), size_t(4));
    QCOMPARE(oneThread.back().inputs.size(0), std::int64_t(1));
    compareBatches(oneThread, run(3, 1, 5, 0));
    compareBatches(oneThread, run(3, 2, 5, 0));

    // Shuffled: a permutation of every sample, not the list order.
    std::vector<std::int64_t> order = allIndices(oneThread);
    std::vector<std::int64_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::int64_t> identity(10);
    std::iota(identity.begin(), identity.end(), 0);
    QCOMPARE(sorted, identity);
    QVERIFY(order != identity);
    QCOMPARE(order, seededPermutation(10, 5 * 1000003ull + 0));

    // Another seed or another epoch: another order.
    QVERIFY(allIndices(run(2, 4, 6, 0)) != order);
    const std::vector<Batch> epochOne = run(2, 4, 5, 1);
    QVERIFY(allIndices(epochOne) != order);

    // Each sample is augmented with its own seed: the same as TrainTransform on the decoded image.
    const std::int64_t first = oneThread[0].indices[0];
    const Sample& sample = fixture.samples[static_cast<size_t>(first)];
    at::Tensor expected = torch::empty({3, 12, 12}, torch::kFloat);
    AugmentRng rng(sampleSeed(5, 0, static_cast<std::uint64_t>(first)));
    train.apply(decodeImage(sample.path), rng, expected.data_ptr<float>());
    QVERIFY(torch::equal(oneThread[0].inputs[0], expected));
    // ...and differently in the next epoch.
    for (const Batch& batch : epochOne)
        for (size_t i = 0; i < batch.indices.size(); ++i)
            if (batch.indices[i] == first)
                QVERIFY(!torch::equal(batch.inputs[static_cast<std::int64_t>(i)], expected));
}

void TestLoader::everyImageCorruptEndsTheEpoch()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const fs::path root = tempPath(temporary);
    std::vector<Sample> samples;
    for (int i = 0; i < 5; ++i) {
        const fs::path file = root / ("bad" + std::to_string(i) + ".png");
        writeBytes(file, i == 0 ? std::string() : "garbage " + std::to_string(i));
        samples.push_back(Sample{utf8(file), -1, i % 2});
    }
    const std::string missing = utf8(root / "missing.jpg");
    samples.push_back(Sample{missing, -1, 0});

    LoaderOptions options;
    options.batchSize = 2;
    options.threads = 2;
    options.prefetchBatches = 2;
    ImageBatchSource source(nullptr, samples, ImagePipeline{}, options);
    source.startEpoch(0);
    // Bounded prefetch: without a consumer the workers stop after the first two batches (4 images).
    QTRY_COMPARE_WITH_TIMEOUT(source.skippedCount(), std::int64_t(4), 10000);
    QTest::qSleep(150);
    QCOMPARE(source.skippedCount(), std::int64_t(4));
    QVERIFY(!source.next().has_value());
    QVERIFY(!source.next().has_value());
    QCOMPARE(source.skippedCount(), std::int64_t(6));
    const std::vector<std::string> problems = source.problems();
    QCOMPARE(problems.size(), size_t(6));
    QVERIFY(std::find(problems.begin(), problems.end(), missing + ": file not found") != problems.end());
    QVERIFY(std::find(problems.begin(), problems.end(), samples[0].path + ": the file is empty") != problems.end());
    QCOMPARE(source.imagesPerSecond(), 0.0);

    // An IDX sample without its dataset is a reported problem too.
    ImageBatchSource orphan(nullptr, {Sample{"/nowhere/train-images-idx3-ubyte", 3, 1}}, ImagePipeline{}, options);
    QVERIFY(!orphan.next().has_value());
    QCOMPARE(orphan.problems().size(), size_t(1));
    QVERIFY2(orphan.problems()[0].rfind("/nowhere/train-images-idx3-ubyte[3]: ", 0) == 0, orphan.problems()[0].c_str());
}

void TestLoader::destructionMidEpochDoesNotHang()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    FolderFixture fixture = writeFolderDataset(tempPath(temporary) / "folder");
    std::vector<Sample> many;
    for (int copy = 0; copy < 30; ++copy)
        many.insert(many.end(), fixture.samples.begin(), fixture.samples.end());

    ImagePipeline pipeline;
    TrainTransform train;
    train.resolution = 32;
    pipeline.train = train;
    LoaderOptions options;
    options.batchSize = 4;
    options.threads = 3;
    options.prefetchBatches = 2;
    options.shuffle = true;

    QElapsedTimer timer;
    timer.start();
    {
        ImageBatchSource untouched(fixture.dataset, many, pipeline, options); // never started
    }
    {
        ImageBatchSource started(fixture.dataset, many, pipeline, options);
        started.startEpoch(0); // workers fill the queue and wait for a consumer that never comes
    }
    {
        ImageBatchSource partial(fixture.dataset, many, pipeline, options);
        QVERIFY(partial.next().has_value());
        QVERIFY(partial.next().has_value());
    }
    {
        // Restarting mid-epoch abandons the old epoch cleanly.
        ImageBatchSource restarted(fixture.dataset, many, pipeline, options);
        restarted.startEpoch(0);
        QVERIFY(restarted.next().has_value());
        restarted.startEpoch(1);
        const std::vector<Batch> batches = drain(restarted);
        QCOMPARE(batches.size(), size_t(restarted.batchesPerEpoch()));
        QCOMPARE(allIndices(batches).size(), many.size() - 30); // the corrupt copies are skipped
    }
    QVERIFY2(timer.elapsed() < 20000, std::to_string(timer.elapsed()).c_str());
}

void TestLoader::throughputAndOptions()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    FolderFixture fixture = writeFolderDataset(tempPath(temporary) / "folder");
    LoaderOptions options;
    options.batchSize = 5;
    ImageBatchSource source(fixture.dataset, fixture.samples, ImagePipeline{}, options);
    QCOMPARE(source.threadCount(), std::max(1, int(std::thread::hardware_concurrency())));
    QCOMPARE(source.imagesPerSecond(), 0.0);
    drain(source);
    const double rate = source.imagesPerSecond();
    QVERIFY2(rate > 0 && std::isfinite(rate), std::to_string(rate).c_str());
    source.startEpoch(1); // the last epoch's figure stays until the new epoch has one
    QVERIFY(source.imagesPerSecond() > 0);

    // No samples: no batches, no threads, no hang.
    ImageBatchSource empty(fixture.dataset, {}, ImagePipeline{}, options);
    QCOMPARE(empty.batchesPerEpoch(), std::int64_t(0));
    QVERIFY(!empty.next().has_value());

    auto errorOf = [&](LoaderOptions bad) -> std::string {
        try {
            ImageBatchSource invalid(fixture.dataset, fixture.samples, ImagePipeline{}, bad);
        } catch (const Error& error) {
            return error.what();
        }
        return {};
    };
    LoaderOptions bad = options;
    bad.batchSize = 0;
    QVERIFY(errorOf(bad).find("batch size") != std::string::npos);
    bad = options;
    bad.prefetchBatches = 0;
    QVERIFY(errorOf(bad).find("prefetch") != std::string::npos);
    bad = options;
    bad.threads = -2;
    QVERIFY(errorOf(bad).find("thread count") != std::string::npos);
}

QTEST_APPLESS_MAIN(TestLoader)
#include "tst_loader.moc"
