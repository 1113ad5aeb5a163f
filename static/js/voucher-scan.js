// The voucher desk's camera scanner: reads the QR code on the patient's phone and looks the voucher up, as if
// its code had been typed. The browser's own BarcodeDetector is used where it reads QR codes; elsewhere the
// vendored jsQR (static/vendor/jsqr-*) is loaded on first use and reads frames drawn to a canvas.
// Nothing shows without a camera API (the code is typed or read by a keyboard-wedge scanner instead).
(() => {
  const box = document.querySelector("[data-scanner]");
  if (!box || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  const form = document.getElementById(box.dataset.form);
  const input = form && form.querySelector("input[name=code]");
  if (!input) return;
  const start = box.querySelector("[data-scan-start]");
  const stop = box.querySelector("[data-scan-stop]");
  const view = box.querySelector("[data-scan-view]");
  const video = box.querySelector("video");
  const status = box.querySelector("[data-scan-status]");
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const EVERY_MS = 150; // frames read per second: enough to feel instant, light on a desk tablet
  let stream = null;
  let timer = null;
  let decode = null;

  const say = (text) => {
    status.textContent = text;
  };

  // The code in what the QR code holds: the code itself, or a link carrying it (?code=...).
  const codeIn = (text) => {
    try {
      const url = new URL(text);
      return url.searchParams.get("code") || text;
    } catch {
      return text;
    }
  };

  const loadScript = (src) =>
    new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });

  const decoder = async () => {
    if ("BarcodeDetector" in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) {
          const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
          return async () => {
            const found = await detector.detect(video);
            return found.length ? found[0].rawValue : null;
          };
        }
      } catch {
        // fall through to jsQR
      }
    }
    if (!window.jsQR) await loadScript(box.dataset.decoder);
    return async () => {
      const width = Math.min(video.videoWidth, 640);
      const height = Math.round((video.videoHeight * width) / video.videoWidth);
      if (!width || !height) return null;
      canvas.width = width;
      canvas.height = height;
      context.drawImage(video, 0, 0, width, height);
      const image = context.getImageData(0, 0, width, height);
      const found = window.jsQR(image.data, width, height, { inversionAttempts: "dontInvert" });
      return found ? found.data : null;
    };
  };

  const end = () => {
    clearTimeout(timer);
    timer = null;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    view.hidden = true;
    start.hidden = false;
  };

  const look = async () => {
    if (!stream) return;
    let text = null;
    try {
      text = video.readyState >= 2 ? await decode() : null;
    } catch {
      text = null;
    }
    if (text) {
      end();
      input.value = codeIn(text.trim());
      say(`Read ${input.value}. Looking it up…`);
      form.requestSubmit ? form.requestSubmit() : form.submit();
      return;
    }
    timer = setTimeout(look, EVERY_MS);
  };

  start.addEventListener("click", async () => {
    say("Starting the camera…");
    try {
      decode = decode || (await decoder());
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (error) {
      end();
      const denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
      say(
        denied
          ? "The camera is not allowed for this page. Allow it in the browser's settings, or type the code."
          : "No camera could be started. Type the code instead, or use a scanner.",
      );
      return;
    }
    video.srcObject = stream;
    await video.play().catch(() => {});
    view.hidden = false;
    start.hidden = true;
    say("Hold the voucher's QR code in front of the camera.");
    look();
  });

  stop.addEventListener("click", () => {
    end();
    say("");
    input.focus();
  });

  box.hidden = false;
})();
