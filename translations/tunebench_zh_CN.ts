<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>QObject</name>
    <message>
        <source>stopped during %1 seed %2; Start continues from the last finished task</source>
        <translation>%1 种子 %2 运行中被停止；再次开始将从最后完成的任务继续</translation>
    </message>
    <message>
        <source>task %1</source>
        <translation>任务 %1</translation>
    </message>
    <message>
        <source>after task %1</source>
        <translation>任务 %1 之后</translation>
    </message>
    <message>
        <source>Tested on</source>
        <translation>测试于</translation>
    </message>
    <message>
        <source>Trained through</source>
        <translation>已训练至</translation>
    </message>
    <message>
        <source>Pool prompt</source>
        <translation>提示池中的提示</translation>
    </message>
    <message>
        <source>Test images of</source>
        <translation>测试图像来自</translation>
    </message>
    <message>
        <source>%1 seed %2: %3</source>
        <translation>%1 种子 %2：%3</translation>
    </message>
    <message>
        <source>joint</source>
        <translation>联合</translation>
    </message>
    <message>
        <source>%1 on %2 seed %3</source>
        <translation>%1 在 %2 上，种子 %3</translation>
    </message>
    <message>
        <source>%1: %2</source>
        <translation>%1：%2</translation>
    </message>
</context>
<context>
    <name>RunStatus</name>
    <message>
        <source>finished</source>
        <translation>已完成</translation>
    </message>
    <message>
        <source>stopped</source>
        <translation>已停止</translation>
    </message>
    <message>
        <source>diverged</source>
        <translation>已发散</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>已失败</translation>
    </message>
    <message>
        <source>out of memory</source>
        <translation>内存不足</translation>
    </message>
    <message>
        <source>running</source>
        <translation>运行中</translation>
    </message>
    <message>
        <source>unreadable</source>
        <translation>无法读取</translation>
    </message>
</context>
<context>
    <name>tunebench::AdaptationPanel</name>
    <message>
        <source>A series is running</source>
        <translation>一组运行正在进行</translation>
    </message>
    <message>
        <source>Open a CLIP model first</source>
        <translation>请先打开 CLIP 模型</translation>
    </message>
    <message>
        <source>The model&apos;s vocabulary is missing (File &gt; Choose vocabulary)</source>
        <translation>模型的词表缺失（文件 &gt; 选择词表）</translation>
    </message>
    <message>
        <source>Choose a source and a target domain with the same classes</source>
        <translation>请选择类别相同的源领域和目标领域</translation>
    </message>
    <message>
        <source>The source and the target are the same dataset</source>
        <translation>源和目标是同一个数据集</translation>
    </message>
    <message>
        <source>Train each method on the source (DAPL also on the unlabelled target images) and score the target</source>
        <translation>在源领域上训练各方法（DAPL 还使用无标注的目标图像），并在目标领域上评估</translation>
    </message>
    <message>
        <source>Opening the source and target domains ...</source>
        <translation>正在打开源领域和目标领域……</translation>
    </message>
    <message>
        <source>Step (%1 seed %2)</source>
        <translation>步（%1 种子 %2）</translation>
    </message>
    <message>
        <source>%1 seed %2 ...</source>
        <translation>%1 种子 %2……</translation>
    </message>
    <message>
        <source>%1 %2%</source>
        <translation>%1 %2%</translation>
    </message>
    <message>
        <source>Finished. Target accuracy: %1</source>
        <translation>已完成。目标准确率：%1</translation>
    </message>
    <message>
        <source>Source (labelled)</source>
        <translation>源领域（有标注）</translation>
    </message>
    <message>
        <source>Target (unlabelled)</source>
        <translation>目标领域（无标注）</translation>
    </message>
    <message>
        <source>Methods</source>
        <translation>方法</translation>
    </message>
    <message>
        <source>Source shots</source>
        <translation>源领域每类样本数</translation>
    </message>
    <message>
        <source>Seeds</source>
        <translation>种子</translation>
    </message>
    <message>
        <source>Epochs</source>
        <translation>轮数</translation>
    </message>
    <message>
        <source>Test images</source>
        <translation>测试图像</translation>
    </message>
    <message>
        <source>A dataset with labels: a name such as fashion-mnist, or a folder (an Office-Home domain, a VisDA-2017 image-list folder, a mini-DomainNet domain)</source>
        <translation>有标注的数据集：名称（如 fashion-mnist）或文件夹（Office-Home 的一个领域、VisDA-2017 的图像列表文件夹、mini-DomainNet 的一个领域）</translation>
    </message>
    <message>
        <source>The domain to adapt to, with the same classes: DAPL sees its training images without labels; every method is scored on its test images</source>
        <translation>要适应的领域，类别须相同：DAPL 使用其训练图像但不读取标注；所有方法都在其测试图像上评估</translation>
    </message>
    <message>
        <source>all</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>Labelled source images per class (0 = all)</source>
        <translation>每类有标注的源图像数（0 = 全部）</translation>
    </message>
    <message>
        <source>recipe</source>
        <translation>按配方</translation>
    </message>
    <message>
        <source>0 = each method&apos;s recipe (CoOp 200 epochs at 16 shots, DAPL 25)</source>
        <translation>0 = 各方法的配方（CoOp 16 样本时 200 轮，DAPL 25 轮）</translation>
    </message>
    <message>
        <source>A fixed subset of each test split, for a quick look (0 = every test image)</source>
        <translation>每个测试划分的固定子集，用于快速查看（0 = 全部测试图像）</translation>
    </message>
    <message>
        <source>Start</source>
        <translation>开始</translation>
    </message>
    <message>
        <source>Training loss</source>
        <translation>训练损失</translation>
    </message>
    <message>
        <source>Pseudo-label coverage (%)</source>
        <translation>伪标签覆盖率（%）</translation>
    </message>
    <message>
        <source>Loss</source>
        <translation>损失</translation>
    </message>
    <message>
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <source>Target (%)</source>
        <translation>目标（%）</translation>
    </message>
    <message>
        <source>Source (%)</source>
        <translation>源（%）</translation>
    </message>
    <message>
        <source>Coverage (%)</source>
        <translation>覆盖率（%）</translation>
    </message>
    <message>
        <source>Target accuracy (%)</source>
        <translation>目标准确率（%）</translation>
    </message>
    <message>
        <source>Domain adaptation</source>
        <translation>领域自适应</translation>
    </message>
    <message>
        <source>%1 (source only)</source>
        <translation>%1（仅源领域）</translation>
    </message>
    <message>
        <source>%1 seed %2</source>
        <translation>%1 种子 %2</translation>
    </message>
</context>
<context>
    <name>tunebench::ContinualPanel</name>
    <message>
        <source>Export the pool, keys and head to</source>
        <translation>将提示池、键和分类头导出到</translation>
    </message>
    <message>
        <source>A stream is running</source>
        <translation>任务流正在运行</translation>
    </message>
    <message>
        <source>Open a model with a ViT image tower first</source>
        <translation>请先打开带 ViT 图像编码塔的模型</translation>
    </message>
    <message>
        <source>Open a dataset: its classes are split into the tasks</source>
        <translation>请打开数据集：其类别将被划分为各个任务</translation>
    </message>
    <message>
        <source>Name at least two datasets with the same classes, separated by commas</source>
        <translation>请输入至少两个类别相同的数据集，用逗号分隔</translation>
    </message>
    <message>
        <source>Train the chosen methods on the stream, each seed in its own run folder</source>
        <translation>在任务流上训练所选方法，每个种子使用各自的运行文件夹</translation>
    </message>
    <message>
        <source>Preparing the stream ...</source>
        <translation>正在准备任务流……</translation>
    </message>
    <message>
        <source>Step (%1)</source>
        <translation>步（%1）</translation>
    </message>
    <message>
        <source>Training loss</source>
        <translation>训练损失</translation>
    </message>
    <message>
        <source>task %1</source>
        <translation>任务 %1</translation>
    </message>
    <message>
        <source>%1: accuracy % so far</source>
        <translation>%1：目前的准确率 %</translation>
    </message>
    <message>
        <source>%1: prompts chosen for each task&apos;s test images (%)</source>
        <translation>%1：各任务测试图像所选的提示（%）</translation>
    </message>
    <message>
        <source>%1: A_T %2, F_T %3</source>
        <translation>%1：A_T %2，F_T %3</translation>
    </message>
    <message>
        <source>Finished. %1</source>
        <translation>已完成。%1</translation>
    </message>
    <message>
        <source>Nothing to export: run a stream first</source>
        <translation>没有可导出的内容：请先运行任务流</translation>
    </message>
    <message>
        <source>Could not write %1</source>
        <translation>无法写入 %1</translation>
    </message>
    <message>
        <source>Exported %1&apos;s pool, keys and head to %2</source>
        <translation>已将 %1 的提示池、键和分类头导出到 %2</translation>
    </message>
    <message>
        <source>Class-incremental</source>
        <translation>类别增量</translation>
    </message>
    <message>
        <source>Domain-incremental</source>
        <translation>领域增量</translation>
    </message>
    <message>
        <source>Protocol</source>
        <translation>协议</translation>
    </message>
    <message>
        <source>Tasks</source>
        <translation>任务数</translation>
    </message>
    <message>
        <source>Domains</source>
        <translation>领域</translation>
    </message>
    <message>
        <source>Methods</source>
        <translation>方法</translation>
    </message>
    <message>
        <source>Seeds</source>
        <translation>种子</translation>
    </message>
    <message>
        <source>Epochs per task</source>
        <translation>每个任务的轮数</translation>
    </message>
    <message>
        <source>Training images per class</source>
        <translation>每类训练图像数</translation>
    </message>
    <message>
        <source>Test images per class</source>
        <translation>每类测试图像数</translation>
    </message>
    <message>
        <source>all</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>Start stream</source>
        <translation>开始任务流</translation>
    </message>
    <message>
        <source>Export...</source>
        <translation>导出……</translation>
    </message>
    <message>
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <source>A_T (%)</source>
        <translation>A_T (%)</translation>
    </message>
    <message>
        <source>F_T (%)</source>
        <translation>F_T (%)</translation>
    </message>
    <message>
        <source>Continual learning</source>
        <translation>持续学习</translation>
    </message>
    <message>
        <source>%1 seed %2 · task %3/%4</source>
        <translation>%1 种子 %2 · 任务 %3/%4</translation>
    </message>
    <message>
        <source>Joint training (upper bound)</source>
        <translation>联合训练（上界）</translation>
    </message>
    <message>
        <source>Also train %1 on every task&apos;s images together, in one stage: the ceiling, with no forgetting</source>
        <translation>另外在所有任务的图像上一次性训练 %1：性能上界，没有遗忘</translation>
    </message>
    <message>
        <source>%1: accuracy % (one seed)</source>
        <translation>%1：准确率 %（一个种子）</translation>
    </message>
    <message>
        <source>%1: accuracy % (mean of %2 seeds)</source>
        <translation>%1：准确率 %（%2 个种子的平均）</translation>
    </message>
</context>
<context>
    <name>tunebench::CurvePlot</name>
    <message>
        <source>Loss</source>
        <translation>损失</translation>
    </message>
    <message>
        <source>Accuracy</source>
        <translation>准确率</translation>
    </message>
    <message>
        <source>Which quantity the curves show</source>
        <translation>曲线显示的量</translation>
    </message>
    <message>
        <source>per step</source>
        <translation>按步</translation>
    </message>
    <message>
        <source>per epoch</source>
        <translation>按轮</translation>
    </message>
    <message>
        <source>Horizontal axis: optimisation step or (fractional) epoch</source>
        <translation>横轴：优化步数或（小数）轮次</translation>
    </message>
    <message>
        <source>Smoothing %1</source>
        <translation>平滑 %1</translation>
    </message>
    <message>
        <source>Exponential moving average weight (debiased, as in TensorBoard); the raw curve stays faint</source>
        <translation>指数移动平均权重（去偏，与 TensorBoard 相同）；原始曲线以淡色保留</translation>
    </message>
    <message>
        <source>Log scale</source>
        <translation>对数坐标</translation>
    </message>
    <message>
        <source>Logarithmic vertical axis</source>
        <translation>纵轴使用对数刻度</translation>
    </message>
    <message>
        <source>Reset view</source>
        <translation>重置视图</translation>
    </message>
    <message>
        <source>Fit the axes to the data again after zooming (mouse wheel) or dragging</source>
        <translation>缩放（鼠标滚轮）或拖动后，让坐标轴重新适配数据</translation>
    </message>
    <message>
        <source>Export...</source>
        <translation>导出...</translation>
    </message>
    <message>
        <source>Save the plot as PNG or PDF, or the points as CSV</source>
        <translation>将图保存为 PNG 或 PDF，或将数据点保存为 CSV</translation>
    </message>
    <message>
        <source>Epoch</source>
        <translation>轮次</translation>
    </message>
    <message>
        <source>Step</source>
        <translation>步</translation>
    </message>
    <message>
        <source>Training accuracy (%)</source>
        <translation>训练准确率 (%)</translation>
    </message>
    <message>
        <source>Training loss</source>
        <translation>训练损失</translation>
    </message>
    <message>
        <source>Export curves</source>
        <translation>导出曲线</translation>
    </message>
    <message>
        <source>PNG image (*.png);;PDF document (*.pdf);;CSV table (*.csv)</source>
        <translation>PNG 图像 (*.png);;PDF 文档 (*.pdf);;CSV 表格 (*.csv)</translation>
    </message>
    <message>
        <source>Export failed</source>
        <translation>导出失败</translation>
    </message>
    <message>
        <source>Could not write %1</source>
        <translation>无法写入 %1</translation>
    </message>
</context>
<context>
    <name>tunebench::DatasetPanel</name>
    <message>
        <source>Open dataset folder</source>
        <translation>打开数据集文件夹</translation>
    </message>
    <message>
        <source>%1: no images found</source>
        <translation>%1：未找到图像</translation>
    </message>
    <message>
        <source>skipped by the run: %1</source>
        <translation>运行时跳过：%1</translation>
    </message>
    <message>
        <source>Problems: none</source>
        <translation>问题：无</translation>
    </message>
    <message>
        <source>Problems: %1</source>
        <translation>问题：%1</translation>
    </message>
    <message>
        <source>base</source>
        <translation>基类</translation>
    </message>
    <message>
        <source>new</source>
        <translation>新类</translation>
    </message>
    <message>
        <source>all</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>A dataset folder (class sub-folders, a CoOp benchmark folder or IDX files) or fashion-mnist</source>
        <translation>数据集文件夹（按类别分子文件夹、CoOp 基准文件夹或 IDX 文件）或 fashion-mnist</translation>
    </message>
    <message>
        <source>Dataset folder or fashion-mnist</source>
        <translation>数据集文件夹或 fashion-mnist</translation>
    </message>
    <message>
        <source>Folder...</source>
        <translation>文件夹...</translation>
    </message>
    <message>
        <source>Choose a dataset folder</source>
        <translation>选择数据集文件夹</translation>
    </message>
    <message>
        <source>Shots per class</source>
        <translation>每类样本数</translation>
    </message>
    <message>
        <source>Training images per class (CoOp&apos;s few-shot sampling); 0 uses the whole training split</source>
        <translation>每个类别的训练图像数（CoOp 的小样本采样）；0 表示使用全部训练集</translation>
    </message>
    <message>
        <source>Seed</source>
        <translation>随机种子</translation>
    </message>
    <message>
        <source>Seed of the few-shot sampling, the shuffling and the initialisation</source>
        <translation>小样本采样、打乱顺序和初始化所用的随机种子</translation>
    </message>
    <message>
        <source>Base-to-new split</source>
        <translation>基类到新类划分</translation>
    </message>
    <message>
        <source>Train on the first half of the classes and test on both halves (CoCoOp&apos;s protocol); only for methods that use the text tower</source>
        <translation>在前一半类别上训练，在两半类别上测试（CoCoOp 协议）；仅适用于使用文本塔的方法</translation>
    </message>
    <message>
        <source>Evaluate also on</source>
        <translation>同时评估于</translation>
    </message>
    <message>
        <source>e.g. fashion-mnist,fashion-mnist:sketch</source>
        <translation>例如 fashion-mnist,fashion-mnist:sketch</translation>
    </message>
    <message>
        <source>Domain generalisation: datasets with the same classes, separated by commas; every run is also scored on their test images (the Domain generalisation tab)</source>
        <translation>领域泛化：类别相同的数据集，以逗号分隔；每次运行也会在它们的测试图像上评分（见“领域泛化”标签页）</translation>
    </message>
    <message>
        <source>Class</source>
        <translation>类别</translation>
    </message>
    <message>
        <source>Train</source>
        <translation>训练</translation>
    </message>
    <message>
        <source>Test</source>
        <translation>测试</translation>
    </message>
    <message>
        <source>Split</source>
        <translation>划分</translation>
    </message>
    <message>
        <source>Problems</source>
        <translation>问题</translation>
    </message>
</context>
<context>
    <name>tunebench::DomainGeneralisationPanel</name>
    <message>
        <source>Accuracy (%) on the source dataset and on each target it was evaluated on, with the classes the run trained on (its base classes under base-to-new). Choose targets under &quot;Evaluate also on&quot;.</source>
        <translation>在源数据集及每个目标数据集上的准确率（%），使用该运行训练过的类别（基类到新类协议下为其基类）。目标在“同时评估于”中选择。</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>运行</translation>
    </message>
    <message>
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <source>Shots</source>
        <translation>样本数</translation>
    </message>
    <message>
        <source>Source</source>
        <translation>源</translation>
    </message>
    <message>
        <source>Domain generalisation</source>
        <translation>领域泛化</translation>
    </message>
</context>
<context>
    <name>tunebench::FewShotPanel</name>
    <message>
        <source>H or accuracy</source>
        <translation>H 或准确率</translation>
    </message>
    <message>
        <source>Accuracy</source>
        <translation>准确率</translation>
    </message>
    <message>
        <source>Base</source>
        <translation>基类</translation>
    </message>
    <message>
        <source>New</source>
        <translation>新类</translation>
    </message>
    <message>
        <source>H</source>
        <translation>H</translation>
    </message>
    <message>
        <source>The score drawn: H under base-to-new, else accuracy; or one of them</source>
        <translation>绘制的分数：基类到新类协议下为 H，否则为准确率；也可选其中之一</translation>
    </message>
    <message>
        <source>H (%)</source>
        <translation>H (%)</translation>
    </message>
    <message>
        <source>Base (%)</source>
        <translation>基类 (%)</translation>
    </message>
    <message>
        <source>New (%)</source>
        <translation>新类 (%)</translation>
    </message>
    <message>
        <source>Accuracy (%)</source>
        <translation>准确率 (%)</translation>
    </message>
    <message>
        <source>Finished runs on the open dataset appear here; run a method at several shot counts (1, 2, 4, 8, 16) to draw its curve. Means over seeds.</source>
        <translation>当前数据集上已完成的运行显示在这里；以多个样本数（1、2、4、8、16）运行一种方法即可绘制其曲线。取各随机种子的平均值。</translation>
    </message>
    <message>
        <source>Means over seeds; zero-shot is the star at 0.</source>
        <translation>各随机种子的平均值；零样本为 0 处的星号。</translation>
    </message>
    <message>
        <source>Few-shot curves</source>
        <translation>少样本曲线</translation>
    </message>
</context>
<context>
    <name>tunebench::HistoryPanel</name>
    <message>
        <source>Runs are stored in %1</source>
        <translation>运行保存在 %1</translation>
    </message>
    <message>
        <source>Could not list the runs in %1: %2</source>
        <translation>无法列出 %1 中的运行：%2</translation>
    </message>
    <message>
        <source>H %1%</source>
        <translation>H %1%</translation>
    </message>
    <message>
        <source>accuracy %1%</source>
        <translation>准确率 %1%</translation>
    </message>
    <message>
        <source>Could not open run %1: %2</source>
        <translation>无法打开运行 %1：%2</translation>
    </message>
    <message>
        <source>Delete runs</source>
        <translation>删除运行</translation>
    </message>
    <message numerus="yes">
        <source>Delete %n run folder(s) from disk?</source>
        <translation>
            <numerusform>从磁盘删除 %n 个运行文件夹？</numerusform>
        </translation>
    </message>
    <message>
        <source>Not deleted, in progress: %1. Stop the run first.</source>
        <translation>未删除，正在运行：%1。请先停止该运行。</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>运行</translation>
    </message>
    <message>
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <source>Dataset</source>
        <translation>数据集</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>结果</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>刷新</translation>
    </message>
    <message>
        <source>Show results</source>
        <translation>显示结果</translation>
    </message>
    <message>
        <source>Add the selected runs to the results table, to compare them</source>
        <translation>将选中的运行加入结果表以便比较</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <source>Delete the selected run folders from disk</source>
        <translation>从磁盘删除选中的运行文件夹</translation>
    </message>
    <message>
        <source>Run history</source>
        <translation>运行历史</translation>
    </message>
    <message>
        <source>A_T %1%</source>
        <translation>A_T %1%</translation>
    </message>
    <message>
        <source>, F_T %1%</source>
        <translation>，F_T %1%</translation>
    </message>
    <message>
        <source>target %1%</source>
        <translation>目标 %1%</translation>
    </message>
    <message>
        <source>Continue run</source>
        <translation>继续运行</translation>
    </message>
    <message>
        <source>Train the selected stopped run on from its last finished epoch, in its own folder and with its own settings (tunebench-cli train --resume)</source>
        <translation>从上一个完成的轮次起继续训练所选的已停止运行，沿用其文件夹和设置（tunebench-cli train --resume）</translation>
    </message>
    <message>
        <source>Cannot continue: %1</source>
        <translation>无法继续：%1</translation>
    </message>
</context>
<context>
    <name>tunebench::JobHost</name>
    <message>
        <source>the job ended with an error that carries no message</source>
        <translation>作业因一个没有消息的错误而结束</translation>
    </message>
</context>
<context>
    <name>tunebench::MainWindow</name>
    <message>
        <source>Open a checkpoint (File &gt; Open, or drop it here) and a dataset to begin.</source>
        <translation>请打开一个检查点（文件 &gt; 打开，或拖放到此处）和一个数据集以开始。</translation>
    </message>
    <message>
        <source>Loading %1 ...</source>
        <translation>正在加载 %1 ...</translation>
    </message>
    <message>
        <source>Loaded %1: %2, %3 parameters</source>
        <translation>已加载 %1：%2，%3 个参数</translation>
    </message>
    <message>
        <source>Loaded %1, but its vocabulary is missing: %2 (File &gt; Choose vocabulary)</source>
        <translation>已加载 %1，但缺少词表：%2（文件 &gt; 选择词表）</translation>
    </message>
    <message>
        <source>Could not load the model: %1</source>
        <translation>无法加载模型：%1</translation>
    </message>
    <message>
        <source>Loading failed</source>
        <translation>加载失败</translation>
    </message>
    <message>
        <source>Opening dataset %1 ...</source>
        <translation>正在打开数据集 %1 ...</translation>
    </message>
    <message>
        <source>Dataset %1: %2 classes, %3 training and %4 test images</source>
        <translation>数据集 %1：%2 个类别，%3 张训练图像，%4 张测试图像</translation>
    </message>
    <message>
        <source>Could not open the dataset: %1</source>
        <translation>无法打开数据集：%1</translation>
    </message>
    <message>
        <source>Evaluate exported prompt</source>
        <translation>评估导出的提示</translation>
    </message>
    <message>
        <source>Prompt manifest (*.json)</source>
        <translation>提示清单 (*.json)</translation>
    </message>
    <message>
        <source>Tunebench</source>
        <translation>Tunebench</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Dataset</source>
        <translation>数据集</translation>
    </message>
    <message>
        <source>Strategy</source>
        <translation>策略</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;Open checkpoint...</source>
        <translation>打开检查点(&amp;O)...</translation>
    </message>
    <message>
        <source>Open &amp;recent</source>
        <translation>最近打开(&amp;R)</translation>
    </message>
    <message>
        <source>Choose &amp;vocabulary...</source>
        <translation>选择词表(&amp;V)...</translation>
    </message>
    <message>
        <source>Open &amp;dataset folder...</source>
        <translation>打开数据集文件夹(&amp;D)...</translation>
    </message>
    <message>
        <source>E&amp;valuate exported prompt...</source>
        <translation>评估导出的提示(&amp;V)...</translation>
    </message>
    <message>
        <source>Evaluate a prompt exported by Tunebench on the classes of the open dataset</source>
        <translation>在当前数据集的类别上评估由 Tunebench 导出的提示</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <source>&amp;Language</source>
        <translation>语言(&amp;L)</translation>
    </message>
    <message>
        <source>A run is in progress: stop it before opening another model.</source>
        <translation>正在运行：请先停止，再打开其他模型。</translation>
    </message>
    <message>
        <source>A run is in progress: stop it before opening another dataset.</source>
        <translation>正在运行：请先停止，再打开其他数据集。</translation>
    </message>
    <message>
        <source>a run is already in progress</source>
        <translation>已有运行正在进行</translation>
    </message>
    <message>
        <source>no model is loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <source>no dataset is open</source>
        <translation>未打开数据集</translation>
    </message>
    <message>
        <source>no strategy is selected</source>
        <translation>未选择策略</translation>
    </message>
    <message>
        <source>Cannot start: %1</source>
        <translation>无法开始：%1</translation>
    </message>
    <message>
        <source>Running %1 on %2 ...</source>
        <translation>正在 %2 上运行 %1 ...</translation>
    </message>
    <message>
        <source>Run %1: %2 trainable parameters, %3 training images</source>
        <translation>运行 %1：%2 个可训练参数，%3 张训练图像</translation>
    </message>
    <message>
        <source>run %1</source>
        <translation>运行 %1</translation>
    </message>
    <message>
        <source>base %1%, new %2%, H %3%</source>
        <translation>基类 %1%，新类 %2%，H %3%</translation>
    </message>
    <message>
        <source>accuracy %1%</source>
        <translation>准确率 %1%</translation>
    </message>
    <message>
        <source>Finished: %1</source>
        <translation>已完成：%1</translation>
    </message>
    <message>
        <source>Stopped: %1</source>
        <translation>已停止：%1</translation>
    </message>
    <message>
        <source>Run %1 finished: %2</source>
        <translation>运行 %1 已完成：%2</translation>
    </message>
    <message>
        <source>Run %1 %2: %3. %4</source>
        <translation>运行 %1 %2：%3。%4</translation>
    </message>
    <message>
        <source>The run failed: %1</source>
        <translation>运行失败：%1</translation>
    </message>
    <message>
        <source>A run is in progress</source>
        <translation>正在运行</translation>
    </message>
    <message>
        <source>Still loading</source>
        <translation>仍在加载</translation>
    </message>
    <message>
        <source>Load a model first</source>
        <translation>请先加载模型</translation>
    </message>
    <message>
        <source>The model&apos;s vocabulary is missing: choose it with File &gt; Choose vocabulary</source>
        <translation>模型缺少词表：请通过“文件 &gt; 选择词表”选择</translation>
    </message>
    <message>
        <source>Open a dataset first</source>
        <translation>请先打开数据集</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <source>&amp;About Tunebench</source>
        <translation>关于 Tunebench(&amp;A)</translation>
    </message>
    <message>
        <source>About Tunebench</source>
        <translation>关于 Tunebench</translation>
    </message>
    <message>
        <source>%1 (selected)</source>
        <translation>%1（已选择）</translation>
    </message>
    <message>
        <source>&lt;p&gt;LibTorch %1&lt;br&gt;%2&lt;br&gt;Qt %3&lt;/p&gt;&lt;p&gt;&lt;b&gt;Devices&lt;/b&gt;&lt;br&gt;%4&lt;/p&gt;</source>
        <translation>&lt;p&gt;LibTorch %1&lt;br&gt;%2&lt;br&gt;Qt %3&lt;/p&gt;&lt;p&gt;&lt;b&gt;设备&lt;/b&gt;&lt;br&gt;%4&lt;/p&gt;</translation>
    </message>
    <message>
        <source>&lt;p&gt;The devices are still being probed.&lt;/p&gt;</source>
        <translation>&lt;p&gt;仍在检测设备。&lt;/p&gt;</translation>
    </message>
    <message>
        <source>&lt;h3&gt;Tunebench %1&lt;/h3&gt;&lt;p&gt;Parameter-efficient tuning workbench for CLIP and ViT models.&lt;/p&gt;%2&lt;p&gt;Free software under the GNU General Public License, version 3 or later.&lt;/p&gt;</source>
        <translation>&lt;h3&gt;Tunebench %1&lt;/h3&gt;&lt;p&gt;面向 CLIP 和 ViT 模型的参数高效微调工作台。&lt;/p&gt;%2&lt;p&gt;自由软件，依据 GNU 通用公共许可证第 3 版或（由您选择的）任何更高版本发布。&lt;/p&gt;</translation>
    </message>
    <message>
        <source>another job is running (one job runs at a time)</source>
        <translation>另一个作业正在运行（一次只运行一个作业）</translation>
    </message>
    <message>
        <source>Another job is running (one job runs at a time)</source>
        <translation>另一个作业正在运行（一次只运行一个作业）</translation>
    </message>
    <message>
        <source>Base-to-new needs a CLIP model with a text tower</source>
        <translation>基类到新类划分需要带文本塔的 CLIP 模型</translation>
    </message>
    <message>
        <source>Base-to-new does not apply to %1: it classifies without the text tower, so it trains and is scored on every class</source>
        <translation>基类到新类划分不适用于 %1：它不使用文本塔分类，因此在所有类别上训练和评估</translation>
    </message>
    <message>
        <source>Base-to-new does not apply to %1: it adapts to a target domain and is scored there, on every class</source>
        <translation>基类到新类划分不适用于 %1：它适应目标域，并在目标域的所有类别上评估</translation>
    </message>
    <message>
        <source>Exported the prompt of %1 (%2) to %3</source>
        <translation>已将 %1（%2）的提示导出到 %3</translation>
    </message>
    <message>
        <source>Could not export the prompt of %1: %2</source>
        <translation>无法导出 %1 的提示：%2</translation>
    </message>
    <message>
        <source>Could not open run %1: %2</source>
        <translation>无法打开运行 %1：%2</translation>
    </message>
    <message>
        <source>Run %1 stopped by request: %2</source>
        <translation>运行 %1 已按请求停止：%2</translation>
    </message>
    <message>
        <source>&amp;Export tuned model...</source>
        <translation>导出调优后的模型(&amp;E)...</translation>
    </message>
    <message>
        <source>Export the tuned model of %1 (%2)</source>
        <translation>导出 %1（%2）调优后的模型</translation>
    </message>
    <message>
        <source>Tunebench export (*.json)</source>
        <translation>Tunebench 导出文件 (*.json)</translation>
    </message>
    <message>
        <source>Could not export: select a finished run in the Results table</source>
        <translation>无法导出：请在结果表中选择一个已完成的运行</translation>
    </message>
    <message>
        <source>Select a run in the Results table (finish a run first)</source>
        <translation>请在结果表中选择一个运行（先完成一次运行）</translation>
    </message>
    <message>
        <source>%1 (%2) has nothing learned to export</source>
        <translation>%1（%2）没有可导出的学习内容</translation>
    </message>
    <message>
        <source>ONNX graph (*.onnx)</source>
        <translation>ONNX 计算图 (*.onnx)</translation>
    </message>
    <message>
        <source>Writing the ONNX graph of %1 (%2)...</source>
        <translation>正在写出 %1（%2）的 ONNX 计算图...</translation>
    </message>
    <message>
        <source>Wrote the ONNX graph of %1 to %2</source>
        <translation>已将 %1 的 ONNX 计算图写入 %2</translation>
    </message>
    <message>
        <source>Could not write the ONNX graph of %1: %2</source>
        <translation>无法写出 %1 的 ONNX 计算图：%2</translation>
    </message>
    <message>
        <source>Export the tuned model of %1 (%2): its learned tensors and manifest (%3), or one ONNX graph</source>
        <translation>导出 %1（%2）的调优模型：其学习到的张量和清单（%3），或一个 ONNX 计算图</translation>
    </message>
    <message>
        <source>Writing the ONNX graph of %1 (%2) once the run in progress lets go of LibTorch&apos;s random numbers (rebuilding the model draws them)...</source>
        <translation>正在进行的运行释放 LibTorch 的随机数后（重建模型会抽取随机数），将写出 %1（%2）的 ONNX 图……</translation>
    </message>
    <message>
        <source>Cannot continue %1: %2</source>
        <translation>无法继续 %1：%2</translation>
    </message>
    <message>
        <source>Continuing %1 from its last finished epoch ...</source>
        <translation>正在从上一个完成的轮次继续 %1 ...</translation>
    </message>
</context>
<context>
    <name>tunebench::MistakesPanel</name>
    <message>
        <source>Mistakes</source>
        <translation>错例</translation>
    </message>
    <message>
        <source>True class:</source>
        <translation>真实类别：</translation>
    </message>
    <message>
        <source>Predicted:</source>
        <translation>预测类别：</translation>
    </message>
    <message>
        <source>Order:</source>
        <translation>排序：</translation>
    </message>
    <message>
        <source>Most confident first</source>
        <translation>置信度高的在前</translation>
    </message>
    <message>
        <source>Least confident first</source>
        <translation>置信度低的在前</translation>
    </message>
    <message>
        <source>Sort by the confidence of the wrong prediction</source>
        <translation>按错误预测的置信度排序</translation>
    </message>
    <message>
        <source>any</source>
        <translation>任意</translation>
    </message>
    <message>
        <source>Find mistakes</source>
        <translation>查找错例</translation>
    </message>
    <message>
        <source>Score the run&apos;s test images again with its tuned model and show the misclassified ones</source>
        <translation>用该运行的微调模型重新给测试图像打分，并显示分错的图像</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Class</source>
        <translation>类别</translation>
    </message>
    <message>
        <source>Probability</source>
        <translation>概率</translation>
    </message>
    <message>
        <source>Hand-crafted prompt (zero-shot CLIP)</source>
        <translation>手工提示（零样本 CLIP）</translation>
    </message>
    <message>
        <source>Select a finished run in the Results table (or open one from the History tab) to see its mistakes</source>
        <translation>在结果表中选择一个已完成的运行（或从历史标签页打开一个）以查看其错例</translation>
    </message>
    <message>
        <source>Opening the tuned model of %1 ...</source>
        <translation>正在打开 %1 的微调模型……</translation>
    </message>
    <message>
        <source>Encoding the test images with the image tower (kept in the image-tower cache for next time) ...</source>
        <translation>正在用图像塔编码测试图像（保存在图像塔缓存中供下次使用）……</translation>
    </message>
    <message>
        <source>Scoring the test images: %1 of %2</source>
        <translation>正在给测试图像打分：%1 / %2</translation>
    </message>
    <message>
        <source>Drawing the thumbnails: %1 of %2</source>
        <translation>正在绘制缩略图：%1 / %2</translation>
    </message>
    <message>
        <source>%1 → %2
%3</source>
        <translation>%1 → %2
%3</translation>
    </message>
    <message>
        <source>%1
true: %2, predicted: %3 (%4)</source>
        <translation>%1
真实：%2，预测：%3（%4）</translation>
    </message>
    <message>
        <source>True class: %1, predicted: %2 (%3)
%4</source>
        <translation>真实类别：%1，预测：%2（%3）
%4</translation>
    </message>
    <message>
        <source>Run: none. Select a finished run in the Results table, or open one from the History tab.</source>
        <translation>运行：无。请在结果表中选择一个已完成的运行，或从历史标签页打开一个。</translation>
    </message>
    <message>
        <source>Run: %1 (%2), %3</source>
        <translation>运行：%1（%2），%3</translation>
    </message>
    <message>
        <source>Cancelled: press Find mistakes to start again.</source>
        <translation>已取消：按“查找错例”重新开始。</translation>
    </message>
    <message>
        <source>The list holds the first %1 in this order: choose a class to see the others.</source>
        <translation>列表按此顺序只保留前 %1 张：选择一个类别以查看其余图像。</translation>
    </message>
    <message>
        <source>The images were encoded again: %1 tunes the image tower, so its features cannot be cached.</source>
        <translation>图像已重新编码：%1 会微调图像塔，因此其特征无法缓存。</translation>
    </message>
    <message>
        <source>Image features read from the image-tower cache.</source>
        <translation>图像特征读取自图像塔缓存。</translation>
    </message>
    <message>
        <source>Image features computed and kept in the image-tower cache.</source>
        <translation>图像特征已计算并保存在图像塔缓存中。</translation>
    </message>
    <message>
        <source>These differ from the run&apos;s confusion matrix: its model changed after its evaluation (a stopped run&apos;s later checkpoint).</source>
        <translation>这些结果与该运行的混淆矩阵不同：其模型在评估后发生了变化（已停止运行的较新检查点）。</translation>
    </message>
    <message numerus="yes">
        <source>%n unreadable image(s) left out, as the run left them.</source>
        <translation>
            <numerusform>有 %n 张无法读取的图像被略去，与该运行的处理一致。</numerusform>
        </translation>
    </message>
    <message>
        <source>Press Find mistakes, or click a cell of the Results tab&apos;s confusion matrix.</source>
        <translation>按“查找错例”，或点击结果标签页混淆矩阵中的单元格。</translation>
    </message>
    <message>
        <source>Tuned model</source>
        <translation>微调模型</translation>
    </message>
    <message>
        <source>Tuned model: %1</source>
        <translation>微调模型：%1</translation>
    </message>
    <message>
        <source>%1 has no hand-crafted prompt to compare with.</source>
        <translation>%1 没有可对比的手工提示。</translation>
    </message>
    <message>
        <source>Click an image to see it larger with its scores.</source>
        <translation>点击图像可放大查看及其得分。</translation>
    </message>
    <message>
        <source>Opening the tuned model of %1 once the run in progress lets go of LibTorch&apos;s random numbers (building a model draws them) ...</source>
        <translation>正在进行的运行释放 LibTorch 的随机数后（构建模型会抽取随机数），将打开 %1 的调优模型……</translation>
    </message>
    <message>
        <source>Test images:</source>
        <translation>测试图像：</translation>
    </message>
    <message>
        <source>The run&apos;s own test images, or those of a target it was scored on</source>
        <translation>运行自身的测试图像，或它评估过的某个目标数据集的测试图像</translation>
    </message>
    <message>
        <source>the run&apos;s (%1)</source>
        <translation>运行自身的（%1）</translation>
    </message>
    <message>
        <source>%1 of %2 test images of %3 misclassified; %4 shown.</source>
        <translation>%3 的 %2 张测试图像中有 %1 张分类错误；显示 %4 张。</translation>
    </message>
</context>
<context>
    <name>tunebench::ModelPanel</name>
    <message>
        <source>Open checkpoint</source>
        <translation>打开检查点</translation>
    </message>
    <message>
        <source>Checkpoints (*.pt *.pth *.bin *.safetensors config.json);;All files (*)</source>
        <translation>检查点 (*.pt *.pth *.bin *.safetensors config.json);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Choose the CLIP vocabulary</source>
        <translation>选择 CLIP 词表</translation>
    </message>
    <message>
        <source>CLIP vocabulary (*.gz vocab.json);;All files (*)</source>
        <translation>CLIP 词表 (*.gz vocab.json);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Device: %1</source>
        <translation>设备：%1</translation>
    </message>
    <message>
        <source>Choose the CLIP vocabulary (bpe_simple_vocab_16e6.txt.gz or a folder with vocab.json + merges.txt)</source>
        <translation>选择 CLIP 词表（bpe_simple_vocab_16e6.txt.gz，或包含 vocab.json + merges.txt 的文件夹）</translation>
    </message>
    <message>
        <source>Only CLIP models with a text tower need a vocabulary</source>
        <translation>只有带文本塔的 CLIP 模型需要词表</translation>
    </message>
    <message>
        <source>Model summary: family, towers, resolution, parameters, file hash</source>
        <translation>模型摘要：系列、编码塔、分辨率、参数量、文件哈希</translation>
    </message>
    <message>
        <source>Open...</source>
        <translation>打开...</translation>
    </message>
    <message>
        <source>Open a checkpoint: OpenAI .pt, .safetensors, or a Hugging Face folder</source>
        <translation>打开检查点：OpenAI .pt、.safetensors 或 Hugging Face 文件夹</translation>
    </message>
    <message>
        <source>Vocabulary...</source>
        <translation>词表...</translation>
    </message>
    <message>
        <source>Device: probing...</source>
        <translation>设备：检测中...</translation>
    </message>
    <message>
        <source>No model loaded.</source>
        <translation>未加载模型。</translation>
    </message>
    <message>
        <source>image + text</source>
        <translation>图像 + 文本</translation>
    </message>
    <message>
        <source>image only</source>
        <translation>仅图像</translation>
    </message>
    <message>
        <source>not computed</source>
        <translation>未计算</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt;</source>
        <translation>&lt;b&gt;%1&lt;/b&gt;</translation>
    </message>
    <message>
        <source>Vocabulary: not needed (vision-only model)</source>
        <translation>词表：不需要（纯视觉模型）</translation>
    </message>
    <message>
        <source>&lt;span style=&apos;color:#b00020&apos;&gt;Vocabulary missing: %1&lt;/span&gt;</source>
        <translation>&lt;span style=&apos;color:#b00020&apos;&gt;缺少词表：%1&lt;/span&gt;</translation>
    </message>
    <message>
        <source>Vocabulary: %1</source>
        <translation>词表：%1</translation>
    </message>
    <message>
        <source>ResNet, blocks %1, width %2, embedding %3</source>
        <translation>ResNet，各阶段块数 %1，宽度 %2，嵌入维度 %3</translation>
    </message>
    <message>
        <source>ViT, %1 layers, width %2, patch %3</source>
        <translation>ViT，%1 层，宽度 %2，图块 %3</translation>
    </message>
    <message>
        <source>Name: %1
Family: %2
Towers: %3
Image tower: %4
Resolution: %5 px
Parameters: %6 (%7)
SHA-256: %8
Format: %9</source>
        <translation>名称：%1
系列：%2
编码塔：%3
图像编码塔：%4
分辨率：%5 像素
参数量：%6 (%7)
SHA-256：%8
格式：%9</translation>
    </message>
    <message>
        <source>&amp;Device:</source>
        <translation>设备(&amp;D)：</translation>
    </message>
    <message>
        <source>Probing devices...</source>
        <translation>正在检测设备...</translation>
    </message>
    <message>
        <source>Automatic</source>
        <translation>自动</translation>
    </message>
    <message>
        <source>CPU (%1 threads)</source>
        <translation>CPU（%1 个线程）</translation>
    </message>
    <message>
        <source>GPU %1</source>
        <translation>GPU %1</translation>
    </message>
    <message>
        <source>GPU %1: %2 (%3 GiB)</source>
        <translation>GPU %1：%2（%3 GiB）</translation>
    </message>
    <message>
        <source>CUDA: compiled (runtime %1), usable GPUs: %2</source>
        <translation>CUDA：已编译（运行时 %1），可用 GPU：%2</translation>
    </message>
    <message>
        <source>CUDA: compiled, usable GPUs: %1</source>
        <translation>CUDA：已编译，可用 GPU：%1</translation>
    </message>
    <message>
        <source>CUDA: not compiled in; usable through LibTorch: %1 GPUs</source>
        <translation>CUDA：未编译进本程序；通过 LibTorch 可用的 GPU：%1 块</translation>
    </message>
    <message>
        <source>LibTorch %1</source>
        <translation>LibTorch %1</translation>
    </message>
    <message>
        <source>CUDA: not compiled</source>
        <translation>CUDA：未编译</translation>
    </message>
    <message>
        <source>LibTorch %1 · %2</source>
        <translation>LibTorch %1 · %2</translation>
    </message>
    <message>
        <source>A run is in progress: its device is fixed until it ends</source>
        <translation>正在运行：运行结束前不能更换设备</translation>
    </message>
    <message>
        <source>Where runs compute: the first GPU unless you choose another device; the choice is kept for the next start</source>
        <translation>运行所用的设备：默认使用第一块 GPU，也可选择其他设备；所选设备在下次启动时保留</translation>
    </message>
</context>
<context>
    <name>tunebench::ParamForm</name>
    <message>
        <source>This method has no options.</source>
        <translation>此方法没有选项。</translation>
    </message>
    <message>
        <source>Range: %1 to %2</source>
        <translation>范围：%1 到 %2</translation>
    </message>
    <message>
        <source>Default: %1</source>
        <translation>默认值：%1</translation>
    </message>
</context>
<context>
    <name>tunebench::PetlTablePanel</name>
    <message>
        <source>Tasks</source>
        <translation>任务</translation>
    </message>
    <message>
        <source>Group</source>
        <translation>分组</translation>
    </message>
    <message>
        <source>Methods</source>
        <translation>方法</translation>
    </message>
    <message>
        <source>Seeds</source>
        <translation>种子</translation>
    </message>
    <message>
        <source>Epochs</source>
        <translation>轮数</translation>
    </message>
    <message>
        <source>Steps at most</source>
        <translation>最多步数</translation>
    </message>
    <message>
        <source>Test images</source>
        <translation>测试图像</translation>
    </message>
    <message>
        <source>Open a PETL table folder (tunebench-cli petl-table)</source>
        <translation>打开 PETL 表格文件夹（tunebench-cli petl-table）</translation>
    </message>
    <message>
        <source>Open a model first (a ViT, or a CLIP model for its image tower)</source>
        <translation>请先打开模型（ViT，或使用其图像塔的 CLIP 模型）</translation>
    </message>
    <message>
        <source>Name the tasks: vtab-1k, fgvc, task folders or datasets, separated by commas</source>
        <translation>请指定任务：vtab-1k、fgvc、任务文件夹或数据集，用逗号分隔</translation>
    </message>
    <message>
        <source>Opening the tasks ...</source>
        <translation>正在打开各任务……</translation>
    </message>
    <message>
        <source>%1: %2 of %3 runs finished</source>
        <translation>%1：%3 个运行中已完成 %2 个</translation>
    </message>
    <message>
        <source>Cannot open the table: %1</source>
        <translation>无法打开表格：%1</translation>
    </message>
    <message>
        <source>Step (%1)</source>
        <translation>步（%1）</translation>
    </message>
    <message>
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <source>%1 (1 task)</source>
        <translation>%1（1 个任务）</translation>
    </message>
    <message>
        <source>%1 (%2 tasks)</source>
        <translation>%1（%2 个任务）</translation>
    </message>
    <message>
        <source>Total params</source>
        <translation>总参数量</translation>
    </message>
    <message>
        <source>Finished. The table is in %1 (table.csv, table.json, tasks.csv)</source>
        <translation>已完成。表格位于 %1（table.csv、table.json、tasks.csv）</translation>
    </message>
    <message>
        <source>PETL table</source>
        <translation>PETL 表格</translation>
    </message>
    <message>
        <source>The table&apos;s tasks, separated by commas: vtab-1k or fgvc (every task folder under $TUNEBENCH_DATA), task folders, a folder holding them, or datasets standing in for tasks (the demo: Fashion-MNIST and two of its domain variants)</source>
        <translation>表格的任务，用逗号分隔：vtab-1k 或 fgvc（$TUNEBENCH_DATA 下的所有任务文件夹）、任务文件夹、包含它们的文件夹，或代替任务的数据集（演示：Fashion-MNIST 及其两个领域变体）</translation>
    </message>
    <message>
        <source>The group of the tasks that are not VTAB-1k or FGVC tasks (VTAB-1k&apos;s and FGVC&apos;s own groups are known)</source>
        <translation>非 VTAB-1k 或 FGVC 任务所属的分组（VTAB-1k 和 FGVC 自身的分组是已知的）</translation>
    </message>
    <message>
        <source>recipe</source>
        <translation>配方</translation>
    </message>
    <message>
        <source>Epochs of every cell; 0 = each method&apos;s recipe (the demo&apos;s table: 1 epoch of at most 300 steps)</source>
        <translation>每个单元的轮数；0 = 各方法的配方（演示表格：1 轮，最多 300 步）</translation>
    </message>
    <message>
        <source>no limit</source>
        <translation>不限</translation>
    </message>
    <message>
        <source>Each cell stops after this many steps (a quick look; 0 = no limit)</source>
        <translation>每个单元在这么多步后停止（快速查看；0 = 不限）</translation>
    </message>
    <message>
        <source>all</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>A fixed subset of each task&apos;s test split, for a quick look (0 = every test image)</source>
        <translation>每个任务测试集的固定子集，用于快速查看（0 = 全部测试图像）</translation>
    </message>
    <message>
        <source>Open table...</source>
        <translation>打开表格...</translation>
    </message>
    <message>
        <source>Show a table folder made by tunebench-cli petl-table (here, with --local or on a Slurm cluster)</source>
        <translation>显示由 tunebench-cli petl-table 生成的表格文件夹（本机、--local 或 Slurm 集群上）</translation>
    </message>
    <message>
        <source>Start</source>
        <translation>开始</translation>
    </message>
    <message>
        <source>Train every method on every task (all its training images) and test it: one run folder per cell</source>
        <translation>在每个任务上训练每个方法（使用其全部训练图像）并测试：每个单元一个运行文件夹</translation>
    </message>
    <message>
        <source>A table is running</source>
        <translation>一个表格正在运行</translation>
    </message>
    <message>
        <source>Training loss</source>
        <translation>训练损失</translation>
    </message>
    <message>
        <source>Loss</source>
        <translation>损失</translation>
    </message>
</context>
<context>
    <name>tunebench::ResultsPanel</name>
    <message>
        <source>Run</source>
        <translation>运行</translation>
    </message>
    <message>
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <source>Dataset</source>
        <translation>数据集</translation>
    </message>
    <message>
        <source>Base</source>
        <translation>基类</translation>
    </message>
    <message>
        <source>New</source>
        <translation>新类</translation>
    </message>
    <message>
        <source>H</source>
        <translation>H</translation>
    </message>
    <message>
        <source>Trainable</source>
        <translation>可训练参数</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Class</source>
        <translation>类别</translation>
    </message>
    <message>
        <source>Split</source>
        <translation>划分</translation>
    </message>
    <message>
        <source>Learned (%)</source>
        <translation>学到的 (%)</translation>
    </message>
    <message>
        <source>Hand-crafted (%)</source>
        <translation>手工提示 (%)</translation>
    </message>
    <message>
        <source>Test images</source>
        <translation>测试图像</translation>
    </message>
    <message>
        <source>Per-class accuracy of the tuned method next to the dataset&apos;s hand-crafted prompt (zero-shot CLIP) on the same test images; the better of the two is highlighted</source>
        <translation>在相同测试图像上，微调方法的各类别准确率与数据集手工提示（零样本 CLIP）的对比；两者中较好的一项会高亮显示</translation>
    </message>
    <message>
        <source>Per-class accuracy</source>
        <translation>各类别准确率</translation>
    </message>
    <message>
        <source>Confusion matrix</source>
        <translation>混淆矩阵</translation>
    </message>
    <message>
        <source>Prompt comparison</source>
        <translation>提示词对比</translation>
    </message>
    <message>
        <source>Per-class accuracy of the dataset&apos;s hand-crafted prompt and of the learned contexts of the latest finished run of each prompt learner on the same dataset; the best prompt of each class is highlighted</source>
        <translation>数据集手工提示与同一数据集上每种提示学习方法最近一次完成运行的学习上下文的逐类准确率；每个类别最好的提示高亮显示</translation>
    </message>
    <message>
        <source>The nearest vocabulary words of each learned context vector appear here after a prompt learner&apos;s run (CoOp, CoCoOp, KgCoOp ...).</source>
        <translation>提示学习方法（CoOp、CoCoOp、KgCoOp 等）运行后，每个学习到的上下文向量的最近词表词显示在这里。</translation>
    </message>
    <message>
        <source>For each learned context vector, the vocabulary words whose embeddings are nearest (Euclidean distance), as in CoOp&apos;s paper</source>
        <translation>每个学习到的上下文向量在词嵌入空间中（欧氏距离）最近的词表单词，与 CoOp 论文相同</translation>
    </message>
    <message>
        <source>Results appear here when a run ends.</source>
        <translation>运行结束后结果会显示在这里。</translation>
    </message>
    <message>
        <source>base</source>
        <translation>基类</translation>
    </message>
    <message>
        <source>all</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>new</source>
        <translation>新类</translation>
    </message>
    <message>
        <source>true %1, predicted %2</source>
        <translation>真实 %1，预测 %2</translation>
    </message>
    <message>
        <source>%1: %2 s, %3 trainable parameters.</source>
        <translation>%1：%2 秒，%3 个可训练参数。</translation>
    </message>
    <message>
        <source>Hand-crafted prompt: %1% (learned %2%)</source>
        <translation>手工提示：%1%（学到的 %2%）</translation>
    </message>
    <message>
        <source>New classes: %1</source>
        <translation>新类：%1</translation>
    </message>
    <message>
        <source>Train a prompt learner such as CoOp, CoCoOp or KgCoOp (or reopen such runs from the history) to compare learned prompts with the hand-crafted one.</source>
        <translation>训练一种提示学习方法，如 CoOp、CoCoOp 或 KgCoOp（或从历史中重新打开此类运行），以比较学习到的提示与手工提示。</translation>
    </message>
    <message>
        <source>%1 (%)</source>
        <translation>%1 (%)</translation>
    </message>
    <message>
        <source>%1: %2</source>
        <translation>%1：%2</translation>
    </message>
    <message>
        <source>%1 (%2): no nearest words were recorded</source>
        <translation>%1（%2）：未记录最近词</translation>
    </message>
    <message>
        <source> (before the per-image shift)</source>
        <translation>（逐图像偏移之前）</translation>
    </message>
    <message>
        <source>%1 context %2%3: %4</source>
        <translation>%1 上下文 %2%3：%4</translation>
    </message>
    <message>
        <source>Dataset %1. %2.</source>
        <translation>数据集 %1。%2。</translation>
    </message>
    <message>
        <source>Results</source>
        <translation>结果</translation>
    </message>
    <message>
        <source>Accuracy (%) on the base classes, the new classes and their harmonic mean H, as in the CoCoOp paper; vision-only methods have one accuracy over all classes (shown under Base), an adapted run (DAPL) its target&apos;s</source>
        <translation>基类、新类上的准确率（%）及其调和平均 H，与 CoCoOp 论文一致；纯视觉方法只有一个所有类别上的准确率（显示在“基类”列），域适应运行（DAPL）显示其目标域准确率</translation>
    </message>
    <message>
        <source>Accuracy on the target domain&apos;s test images (source: %1%)</source>
        <translation>目标域测试图像上的准确率（源域：%1%）</translation>
    </message>
    <message>
        <source>Stopped by request.</source>
        <translation>已按请求停止。</translation>
    </message>
    <message>
        <source>Rows: true class; columns: predicted class. Click a cell off the diagonal to see its images in the Mistakes tab</source>
        <translation>行：真实类别；列：预测类别。点击对角线以外的单元格，可在“错例”标签页中查看其图像</translation>
    </message>
    <message>
        <source>true %1, predicted %2: click to see these images in the Mistakes tab</source>
        <translation>真实 %1，预测 %2：点击在“错例”标签页中查看这些图像</translation>
    </message>
</context>
<context>
    <name>tunebench::RunBar</name>
    <message>
        <source>Train the selected strategy on the dataset</source>
        <translation>在数据集上训练所选策略</translation>
    </message>
    <message>
        <source>Pause or resume training after the current step</source>
        <translation>在当前步之后暂停或继续训练</translation>
    </message>
    <message>
        <source>No run in progress</source>
        <translation>没有正在进行的运行</translation>
    </message>
    <message>
        <source>Stop training after the current step; a second press also ends the evaluation</source>
        <translation>在当前步骤后停止训练；再按一次也会结束评估</translation>
    </message>
    <message>
        <source>Starting...</source>
        <translation>正在启动...</translation>
    </message>
    <message>
        <source>Epoch %1/%2 · step %3/%4 · %5 img/s · ETA %6</source>
        <translation>第 %1/%2 轮 · 第 %3/%4 步 · %5 张/秒 · 剩余 %6</translation>
    </message>
    <message>
        <source>GPU memory: %1</source>
        <translation>显存：%1</translation>
    </message>
    <message>
        <source>Stopping...</source>
        <translation>正在停止...</translation>
    </message>
    <message>
        <source>Resume</source>
        <translation>继续</translation>
    </message>
    <message>
        <source>Pause</source>
        <translation>暂停</translation>
    </message>
    <message>
        <source>Paused</source>
        <translation>已暂停</translation>
    </message>
    <message>
        <source>Training</source>
        <translation>训练</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <source>Start</source>
        <translation>开始</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <source>Idle</source>
        <translation>空闲</translation>
    </message>
</context>
<context>
    <name>tunebench::RunController</name>
    <message>
        <source>the run ended without results</source>
        <translation>运行结束但没有结果</translation>
    </message>
    <message>
        <source>Loading model</source>
        <translation>正在加载模型</translation>
    </message>
    <message>
        <source>Opening dataset</source>
        <translation>正在打开数据集</translation>
    </message>
    <message>
        <source>Preparing</source>
        <translation>正在准备</translation>
    </message>
    <message>
        <source>Training</source>
        <translation>训练</translation>
    </message>
    <message>
        <source>Tuning on validation images</source>
        <translation>在验证图像上调整</translation>
    </message>
    <message>
        <source>Evaluating</source>
        <translation>正在评估</translation>
    </message>
    <message>
        <source>Scoring the hand-crafted prompt</source>
        <translation>正在评估手工提示</translation>
    </message>
</context>
<context>
    <name>tunebench::RunResults</name>
    <message>
        <source> (imported)</source>
        <translation>（导入）</translation>
    </message>
    <message>
        <source>Hand-crafted prompt</source>
        <translation>手工提示</translation>
    </message>
</context>
<context>
    <name>tunebench::ShotCurvePlot</name>
    <message>
        <source>Labelled training images per class</source>
        <translation>每类带标签的训练图像数</translation>
    </message>
</context>
<context>
    <name>tunebench::StrategyPanel</name>
    <message>
        <source>Prompt learning (CLIP)</source>
        <translation>提示学习（CLIP）</translation>
    </message>
    <message>
        <source>Classic tuning (ViT)</source>
        <translation>经典微调（ViT）</translation>
    </message>
    <message>
        <source>Its prompts depend on each image: the text tower runs per image, so steps are slower.</source>
        <translation>其提示依赖于每张图像：文本塔需逐图像运行，因此每步较慢。</translation>
    </message>
    <message>
        <source>dataset: %1</source>
        <translation>数据集：%1</translation>
    </message>
    <message>
        <source>dataset</source>
        <translation>数据集</translation>
    </message>
    <message>
        <source>Trainable parameters: load a model</source>
        <translation>可训练参数：请先加载模型</translation>
    </message>
    <message>
        <source>Trainable parameters: counting...</source>
        <translation>可训练参数：计算中...</translation>
    </message>
    <message>
        <source>Trainable parameters: %1</source>
        <translation>可训练参数：%1</translation>
    </message>
    <message>
        <source>Options problem: %1</source>
        <translation>选项有误：%1</translation>
    </message>
    <message>
        <source>Prompt learning needs a CLIP model with a text tower; classic tuning works on any vision tower</source>
        <translation>提示学习需要带文本塔的 CLIP 模型；经典微调适用于任何视觉塔</translation>
    </message>
    <message>
        <source>recipe</source>
        <translation>默认配方</translation>
    </message>
    <message>
        <source>no limit</source>
        <translation>不限</translation>
    </message>
    <message>
        <source>all</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>Training</source>
        <translation>训练</translation>
    </message>
    <message>
        <source>Epochs</source>
        <translation>轮数</translation>
    </message>
    <message>
        <source>Learning rate</source>
        <translation>学习率</translation>
    </message>
    <message>
        <source>Batch size</source>
        <translation>批大小</translation>
    </message>
    <message>
        <source>Max steps</source>
        <translation>最大步数</translation>
    </message>
    <message>
        <source>Test images</source>
        <translation>测试图像</translation>
    </message>
    <message>
        <source>Crop scale min</source>
        <translation>最小裁剪比例</translation>
    </message>
    <message>
        <source>Epochs to train; &apos;recipe&apos; uses the method&apos;s published schedule</source>
        <translation>训练轮数；“默认配方”表示使用该方法论文中的训练计划</translation>
    </message>
    <message>
        <source>Peak learning rate; &apos;recipe&apos; uses the method&apos;s</source>
        <translation>峰值学习率；“默认配方”表示使用该方法的设置</translation>
    </message>
    <message>
        <source>Images per step; &apos;recipe&apos; uses the method&apos;s</source>
        <translation>每步图像数；“默认配方”表示使用该方法的设置</translation>
    </message>
    <message>
        <source>Stop training after this many steps (quick checks)</source>
        <translation>达到此步数后停止训练（用于快速检查）</translation>
    </message>
    <message>
        <source>Evaluate on a fixed random subset of each test split (quicker); &apos;all&apos; uses every test image</source>
        <translation>在每个测试集的固定随机子集上评估（更快）；“全部”表示使用所有测试图像</translation>
    </message>
    <message>
        <source>Smallest area fraction of the random resized crop; &apos;dataset&apos; uses the dataset&apos;s recipe (0.5 for 28-pixel images, else torchvision&apos;s 0.08)</source>
        <translation>随机缩放裁剪的最小面积比例；“数据集”使用数据集的配方（28 像素图像为 0.5，否则为 torchvision 的 0.08）</translation>
    </message>
    <message>
        <source>Continual learning (ViT)</source>
        <translation>持续学习（ViT）</translation>
    </message>
    <message>
        <source>%1 adapts to an unlabelled target domain: run it in the Domain adaptation tab</source>
        <translation>%1 需要适应无标注的目标领域：请在“领域自适应”标签页中运行</translation>
    </message>
    <message>
        <source>%1 trains nothing: this applies to methods that train</source>
        <translation>%1 不做训练：此项仅适用于需要训练的方法</translation>
    </message>
    <message>
        <source>Accumulate</source>
        <translation>梯度累积</translation>
    </message>
    <message>
        <source>Micro-batches per optimiser step (gradient accumulation): the effective batch is this times the batch size, for a batch that does not fit in memory at once. Steps and the schedule count optimiser steps</source>
        <translation>每个优化器步的微批次数（梯度累积）：有效批大小为该值乘以批大小，用于一次放不进内存的批。步数和学习率调度按优化器步计数</translation>
    </message>
    <message>
        <source>none</source>
        <translation>不使用</translation>
    </message>
    <message>
        <source>image tower</source>
        <translation>图像塔</translation>
    </message>
    <message>
        <source>text tower</source>
        <translation>文本塔</translation>
    </message>
    <message>
        <source>both towers</source>
        <translation>两个塔</translation>
    </message>
    <message>
        <source>Checkpointing</source>
        <translation>梯度检查点</translation>
    </message>
    <message>
        <source>Gradient checkpointing: the chosen towers keep only each block&apos;s input and compute the block again in the backward pass. Less memory for about one more forward pass; the same gradients</source>
        <translation>梯度检查点：所选的塔只保存每个模块的输入，并在反向传播时重新计算该模块。内存更少，代价约为多一次前向传播；梯度不变</translation>
    </message>
    <message>
        <source>Memory: estimating...</source>
        <translation>内存：估算中...</translation>
    </message>
    <message>
        <source>Memory: needs ~%1 of %2 on %3</source>
        <translation>内存：在 %3 上需要约 %1（共 %2）</translation>
    </message>
    <message>
        <source>Memory: needs ~%1</source>
        <translation>内存：需要约 %1</translation>
    </message>
    <message>
        <source>weights %1, gradients and optimiser %2, activations %3, text side %4 at batch %5</source>
        <translation>批大小 %5 时：权重 %1，梯度与优化器 %2，激活 %3，文本侧 %4</translation>
    </message>
    <message>
        <source>the weights; this method trains nothing</source>
        <translation>仅权重；该方法不做训练</translation>
    </message>
    <message>
        <source>Does not fit. Try %1</source>
        <translation>放不下。可尝试 %1</translation>
    </message>
    <message>
        <source>a smaller model</source>
        <translation>更小的模型</translation>
    </message>
    <message>
        <source>; or </source>
        <translation>；或 </translation>
    </message>
    <message>
        <source>Fits: up to batch %1 here</source>
        <translation>放得下：此处最大批大小为 %1</translation>
    </message>
    <message>
        <source>Memory: cannot estimate (%1)</source>
        <translation>内存：无法估算（%1）</translation>
    </message>
    <message>
        <source>Estimated from the method&apos;s own training step on narrow copies of the model, on this machine&apos;s CPU kernels (tunebench-cli plan)</source>
        <translation>由该方法自身的训练步在模型的窄副本上估算，使用本机的 CPU 内核（tunebench-cli plan）</translation>
    </message>
    <message>
        <source>Memory: estimated when the run ends</source>
        <translation>内存：运行结束后再估算</translation>
    </message>
    <message>
        <source>Fits: any batch up to %1, and more, here</source>
        <translation>放得下：此处 %1 以内的任何批大小都可以，更大的也行</translation>
    </message>
</context>
<context>
    <name>tunebench::StudyPanel</name>
    <message>
        <source>Another job is running; one job runs at a time</source>
        <translation>另一个作业正在运行；一次只运行一个作业</translation>
    </message>
    <message>
        <source>Choose at least one method</source>
        <translation>请至少选择一种方法</translation>
    </message>
    <message>
        <source>Cannot start: %1</source>
        <translation>无法开始：%1</translation>
    </message>
    <message>
        <source>Cannot start: seed &apos;%1&apos; is not a whole number</source>
        <translation>无法开始：种子“%1”不是整数</translation>
    </message>
    <message>
        <source>Cannot start: give at least one seed</source>
        <translation>无法开始：请至少给出一个种子</translation>
    </message>
    <message>
        <source>Stopping after the current step ...</source>
        <translation>将在当前步之后停止……</translation>
    </message>
    <message>
        <source>Not finished: %1</source>
        <translation>未完成：%1</translation>
    </message>
    <message>
        <source>stopped</source>
        <translation>已停止</translation>
    </message>
    <message>
        <source>%1 · epoch %2/%3 · step %4/%5 · ETA %6</source>
        <translation>%1 · 轮次 %2/%3 · 步 %4/%5 · 预计剩余 %6</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
</context>
<context>
    <name>tunebench::SweepPanel</name>
    <message>
        <source>Open a sweep folder (tunebench-cli sweep --out)</source>
        <translation>打开批量实验文件夹（tunebench-cli sweep --out）</translation>
    </message>
    <message>
        <source>Cannot open the sweep: %1</source>
        <translation>无法打开批量实验：%1</translation>
    </message>
    <message>
        <source>Cannot read the sweep: %1</source>
        <translation>无法读取批量实验：%1</translation>
    </message>
    <message>
        <source>%1 runs: %2 finished, %3 running, %4 pending, %5 failed</source>
        <translation>%1 个运行：%2 个已完成，%3 个运行中，%4 个待运行，%5 个失败</translation>
    </message>
    <message>
        <source>H (%)</source>
        <translation>H (%)</translation>
    </message>
    <message>
        <source>Accuracy (%)</source>
        <translation>准确率 (%)</translation>
    </message>
    <message>
        <source>Open sweep...</source>
        <translation>打开批量实验……</translation>
    </message>
    <message>
        <source>A folder written by tunebench-cli sweep --out (local or Slurm)</source>
        <translation>由 tunebench-cli sweep --out 写出的文件夹（本地或 Slurm）</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>刷新</translation>
    </message>
    <message>
        <source>Dataset</source>
        <translation>数据集</translation>
    </message>
    <message>
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <source>Shots</source>
        <translation>样本数</translation>
    </message>
    <message>
        <source>Seeds</source>
        <translation>种子</translation>
    </message>
    <message>
        <source>Base (%)</source>
        <translation>基类 (%)</translation>
    </message>
    <message>
        <source>New (%)</source>
        <translation>新类 (%)</translation>
    </message>
    <message>
        <source>Open a sweep folder to follow its runs and table (tunebench-cli sweep, docs/sweeps.md).</source>
        <translation>打开批量实验文件夹以跟踪其运行和结果表（tunebench-cli sweep，docs/sweeps.md）。</translation>
    </message>
    <message>
        <source>Sweeps</source>
        <translation>批量实验</translation>
    </message>
</context>
<context>
    <name>tunebench::TryItPanel</name>
    <message>
        <source>Try it</source>
        <translation>试一试</translation>
    </message>
    <message>
        <source>Open image...</source>
        <translation>打开图像...</translation>
    </message>
    <message>
        <source>Where it looks</source>
        <translation>关注区域</translation>
    </message>
    <message>
        <source>Class</source>
        <translation>类别</translation>
    </message>
    <message>
        <source>Probability</source>
        <translation>概率</translation>
    </message>
    <message>
        <source>Hand-crafted prompt (zero-shot CLIP)</source>
        <translation>手工提示（零样本 CLIP）</translation>
    </message>
    <message>
        <source>Open an image to classify</source>
        <translation>打开要分类的图像</translation>
    </message>
    <message>
        <source>Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.ppm *.pgm);;All files (*)</source>
        <translation>图像 (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.ppm *.pgm);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Select a finished run in the Results table (or open one from the History tab) to try %1 with</source>
        <translation>请在结果表中选择一个已完成的运行（或从历史标签页打开一个），再用它来试 %1</translation>
    </message>
    <message>
        <source>Run: none. Select a finished run in the Results table, or open one from the History tab.</source>
        <translation>运行：无。请在结果表中选择一个已完成的运行，或从历史标签页打开一个。</translation>
    </message>
    <message>
        <source>Select a finished run in the Results table first (the hand-crafted baseline rows have no tuned model)</source>
        <translation>请先在结果表中选择一个已完成的运行（手工提示基线行没有调优模型）</translation>
    </message>
    <message>
        <source>Run: %1 (%2), %3</source>
        <translation>运行：%1（%2），%3</translation>
    </message>
    <message>
        <source>Classify an image with the tuned model of %1; you can also drop an image file on this tab</source>
        <translation>用 %1 的调优模型对图像分类；也可以把图像文件拖到此标签页上</translation>
    </message>
    <message>
        <source>Tuned model</source>
        <translation>调优模型</translation>
    </message>
    <message>
        <source>Tuned model: %1</source>
        <translation>调优模型：%1</translation>
    </message>
    <message>
        <source>Classifying %1 ...</source>
        <translation>正在分类 %1……</translation>
    </message>
    <message>
        <source>Opening the tuned model of %1 and classifying %2 ...</source>
        <translation>正在打开 %1 的调优模型并分类 %2……</translation>
    </message>
    <message>
        <source>%1, as the model sees it (resized and centre-cropped to %2 x %2)</source>
        <translation>%1，即模型看到的样子（缩放并中心裁剪为 %2 x %2）</translation>
    </message>
    <message>
        <source>Open an image, or drop one on this tab.</source>
        <translation>打开一张图像，或把图像拖到此标签页上。</translation>
    </message>
    <message>
        <source>%1 has no hand-crafted prompt to compare with: only CLIP methods that learn from images (the prompt learners, adapters, Tip-Adapter, the linear probe) are compared with one.</source>
        <translation>%1 没有可比较的手工提示：只有从图像学习的 CLIP 方法（提示学习方法、适配器、Tip-Adapter、线性探针）才与手工提示比较。</translation>
    </message>
    <message>
        <source>Overlay where the image tower looks: %1</source>
        <translation>叠加显示图像塔的关注区域：%1</translation>
    </message>
    <message>
        <source>No attention map for this model: %1</source>
        <translation>此模型没有注意力图：%1</translation>
    </message>
    <message>
        <source>Classify an image first</source>
        <translation>请先对一张图像分类</translation>
    </message>
    <message>
        <source>Where it looks: not available (%1)</source>
        <translation>关注区域：不可用（%1）</translation>
    </message>
    <message>
        <source>Where it looks: %1 (red: most attention, blue: least)</source>
        <translation>关注区域：%1（红色：注意力最多，蓝色：最少）</translation>
    </message>
    <message>
        <source>Where it looks: %1 (tick the box to overlay it)</source>
        <translation>关注区域：%1（勾选复选框以叠加显示）</translation>
    </message>
    <message>
        <source>Opening the tuned model of %1 and classifying %2 once the run in progress lets go of LibTorch&apos;s random numbers (building a model draws them) ...</source>
        <translation>正在进行的运行释放 LibTorch 的随机数后（构建模型会抽取随机数），将打开 %1 的调优模型并分类 %2……</translation>
    </message>
    <message>
        <source>Open folder...</source>
        <translation>打开文件夹...</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Save as CSV...</source>
        <translation>另存为 CSV...</translation>
    </message>
    <message>
        <source>Image</source>
        <translation>图像</translation>
    </message>
    <message>
        <source>Hand-crafted prompt</source>
        <translation>手工提示</translation>
    </message>
    <message>
        <source>Open a folder of images to classify</source>
        <translation>打开要分类的图像文件夹</translation>
    </message>
    <message numerus="yes">
        <source>%n dropped image(s)</source>
        <translation>
            <numerusform>%n 张拖入的图像</numerusform>
        </translation>
    </message>
    <message>
        <source>%1: cancelled; nothing was kept.</source>
        <translation>%1：已取消，未保留任何结果。</translation>
    </message>
    <message>
        <source>, about %1 s left</source>
        <translation>，约剩 %1 秒</translation>
    </message>
    <message>
        <source>%1: encoding %2 of %3 images with the image tower (kept in the image-tower cache)%4</source>
        <translation>%1：正在用图像塔编码第 %2/%3 张图像（保存在图像塔缓存中）%4</translation>
    </message>
    <message>
        <source>%1: classifying %2 of %3 images%4</source>
        <translation>%1：正在分类第 %2/%3 张图像%4</translation>
    </message>
    <message>
        <source>unreadable: %1</source>
        <translation>无法读取：%1</translation>
    </message>
    <message>
        <source>%1: %2 images classified; choose one to see its top 5 and where it looks</source>
        <translation>%1：已分类 %2 张图像；选择一张查看其前 5 名和关注区域</translation>
    </message>
    <message>
        <source>%1: %2 of %3 images classified, %4 unreadable (marked in the list); choose one to see its top 5 and where it looks</source>
        <translation>%1：已分类 %2/%3 张图像，%4 张无法读取（已在列表中标出）；选择一张查看其前 5 名和关注区域</translation>
    </message>
    <message>
        <source>Save the predictions as CSV</source>
        <translation>将预测结果另存为 CSV</translation>
    </message>
    <message>
        <source>CSV files (*.csv)</source>
        <translation>CSV 文件 (*.csv)</translation>
    </message>
    <message>
        <source>%1: saved as %2</source>
        <translation>%1：已保存为 %2</translation>
    </message>
    <message>
        <source>Classify every image in a folder with the tuned model of %1, as tunebench-cli predict --folder does; you can also drop a folder or several images on this tab</source>
        <translation>用 %1 的微调模型对文件夹中的每张图像分类，与 tunebench-cli predict --folder 相同；也可以把文件夹或多张图像拖到此标签页上</translation>
    </message>
    <message>
        <source>Save every image&apos;s top %1 as tunebench-cli predict --csv writes them</source>
        <translation>按 tunebench-cli predict --csv 的格式保存每张图像的前 %1 名</translation>
    </message>
    <message>
        <source>Classify a folder first</source>
        <translation>请先对一个文件夹分类</translation>
    </message>
</context>
</TS>
