using System;
using System.Text;

namespace ReSTE.Generators.Emission
{
    /// <summary>
    /// A small indented writer: four spaces a level, LF line ends whatever the machine, so that the generated source
    /// is byte-for-byte the same everywhere (snapshots, deterministic builds).
    /// </summary>
    internal sealed class SourceWriter
    {
        readonly StringBuilder _text = new();
        int _indent;

        public void Line(string line = "")
        {
            if (line.Length > 0) _text.Append(' ', _indent * 4).Append(line);
            _text.Append('\n');
        }

        public void Open(string line)
        {
            Line(line);
            Open();
        }

        /// <summary>Opens a block on its own line (after a signature written over several lines).</summary>
        public void Open()
        {
            Line("{");
            _indent++;
        }

        public void Close(string closing = "}")
        {
            if (_indent == 0) throw new InvalidOperationException("Close without Open.");
            _indent--;
            Line(closing);
        }

        public override string ToString()
        {
            if (_indent != 0) throw new InvalidOperationException($"{_indent} blocks left open.");
            return _text.ToString();
        }
    }
}
