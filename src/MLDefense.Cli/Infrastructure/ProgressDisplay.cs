using System.Diagnostics;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace MLDefense.Cli.Infrastructure;

/// <summary>
/// Shows the steps of a long run: live Spectre.Console bars with elapsed time and ETA on an interactive terminal, or
/// plain timestamped lines when the output is redirected (a step's start and end, each milestone such as the end of
/// an epoch, and otherwise at most one line every <see cref="PlainLineInterval"/>), so that CI logs stay readable.
/// </summary>
public abstract class ProgressDisplay
{
    /// <summary>The longest silence between plain progress lines within a step.</summary>
    public static readonly TimeSpan PlainLineInterval = TimeSpan.FromSeconds(20);

    /// <summary>Runs <paramref name="work"/> with a display suited to <paramref name="console"/>.</summary>
    public static T Run<T>(CliConsole console, Func<ProgressDisplay, T> work)
    {
        if (!console.LiveProgress) return work(new PlainDisplay(console));
        var eta = new EtaColumn();
        // No auto-refresh: a render thread would compete with the workload for the cores; reports refresh instead.
        return console.Out.Progress()
            .AutoRefresh(false)
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 20 }, new PercentageColumn(), eta)
            .Start(context => work(new LiveDisplay(context, eta, console.Out.Profile.Width)));
    }

    /// <summary>
    /// Reports on step <paramref name="step"/> (a new name starts a new bar): what it is doing, the share done in [0, 1],
    /// and the estimated time left when the workload knows it better than a rate would (else null).
    /// A <paramref name="milestone"/> (an epoch's end) is always written in plain mode.
    /// </summary>
    public abstract void Report(string step, string status, double fraction, TimeSpan? remaining = null, bool milestone = false);

    /// <summary>Formats a duration as <c>m:ss</c> (or <c>h:mm:ss</c>).</summary>
    public static string Format(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}" : $"{(int)t.TotalMinutes}:{t.Seconds:00}";

    private sealed class LiveDisplay(ProgressContext context, EtaColumn eta, int consoleWidth) : ProgressDisplay
    {
        // What the bar (20), percentage, ETA and the gaps between columns take; the description gets the rest, cut
        // short rather than wrapped, because a wrapping row squeezes the other columns into one character each.
        private const int FixedColumnsWidth = 42;

        private readonly Dictionary<string, ProgressTask> tasks = [];

        public override void Report(string step, string status, double fraction, TimeSpan? remaining, bool milestone)
        {
            if (!tasks.TryGetValue(step, out var task))
            {
                foreach (var other in tasks.Values) if (!other.IsFinished) other.StopTask();
                tasks[step] = task = context.AddTask(Markup.Escape(step), maxValue: 1);
            }
            task.Description = Markup.Escape(Shorten($"{step}: {status}", Math.Max(20, consoleWidth - FixedColumnsWidth)));
            task.Value = Math.Clamp(fraction, 0, 1);
            eta.Remaining[task.Id] = remaining;
            if (fraction >= 1) task.StopTask();
            context.Refresh();
        }
    }

    private static string Shorten(string text, int width) => text.Length <= width ? text : text[..(width - 1)] + "…";

    private sealed class PlainDisplay(CliConsole console) : ProgressDisplay
    {
        private readonly Stopwatch clock = Stopwatch.StartNew();
        private string? lastStep;
        private TimeSpan lastLine;
        private bool lastStepFinished;

        public override void Report(string step, string status, double fraction, TimeSpan? remaining, bool milestone)
        {
            bool newStep = step != lastStep;
            bool finished = fraction >= 1;
            bool due = newStep || milestone || (finished && !lastStepFinished) || (!finished && clock.Elapsed - lastLine >= PlainLineInterval);
            if (!due) return;
            lastStep = step;
            lastStepFinished = finished;
            lastLine = clock.Elapsed;
            var eta = remaining is { } r && !finished ? $", ETA {Format(r)}" : "";
            console.TextOut.WriteLine($"[{Format(clock.Elapsed)}] {step}: {status} ({fraction * 100:F0}%{eta})");
        }
    }

    /// <summary>The workload's own estimate where it gave one (the trainer knows its step count), else Spectre's rate-based one.</summary>
    private sealed class EtaColumn : ProgressColumn
    {
        public Dictionary<int, TimeSpan?> Remaining { get; } = [];

        protected override bool NoWrap => true;

        public override int? GetColumnWidth(RenderOptions options) => 11;

        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime)
        {
            if (task.IsFinished) return new Text("done", new Style(Color.Green));
            var remaining = Remaining.GetValueOrDefault(task.Id) ?? task.RemainingTime;
            return remaining is { } r ? new Text($"ETA {Format(r)}", new Style(Color.Blue)) : new Text("ETA -:--");
        }
    }
}
