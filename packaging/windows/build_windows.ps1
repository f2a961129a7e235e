# Windows installer: freeze with packaging/ckptgui.spec, prove the bundle runs, then build the Inno Setup installer.
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build_windows.ps1
# Needs Python 3.11+ (py launcher) and Inno Setup 6 (iscc.exe on PATH or in its default folder).
# Output: dist\ckptgui\ckptgui.exe (onedir bundle) and dist\ckptgui-<version>-windows-x64-setup.exe.
$ErrorActionPreference = "Stop"
$Root = Resolve-Path (Join-Path $PSScriptRoot "..\..")
Set-Location $Root
$Venv = Join-Path $Root ".venv-build"
$Py = Join-Path $Venv "Scripts\python.exe"

if (-not (Test-Path (Join-Path $Venv ".installed"))) {
    py -3.11 -m venv $Venv
    & $Py -m pip install --quiet --upgrade pip
    & $Py -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" |
        Set-Content (Join-Path $Venv "requirements.txt")
    & $Py -m pip install --quiet "pyinstaller==6.*" -r (Join-Path $Venv "requirements.txt")
    if ($LASTEXITCODE -ne 0) { throw "pip install failed" }
    New-Item -ItemType File (Join-Path $Venv ".installed") | Out-Null
}
$Version = (& $Py -c "import ckptgui; print(ckptgui.__version__)").Trim()

& (Join-Path $Venv "Scripts\pyinstaller.exe") --noconfirm --workpath build\pyinstaller --distpath dist packaging\ckptgui.spec
if ($LASTEXITCODE -ne 0) { throw "pyinstaller failed" }

$env:QT_QPA_PLATFORM = "offscreen"
Push-Location $env:TEMP
& (Join-Path $Root "dist\ckptgui\ckptgui.exe") --self-test
$SelfTest = $LASTEXITCODE
Pop-Location
Remove-Item Env:QT_QPA_PLATFORM
if ($SelfTest -ne 0) { throw "the frozen app's --self-test failed: dist\ckptgui is broken" }

$Iscc = Get-Command iscc.exe -ErrorAction SilentlyContinue
$IsccPath = if ($Iscc) { $Iscc.Source } else { Join-Path ${env:ProgramFiles(x86)} "Inno Setup 6\ISCC.exe" }
& $IsccPath "/DMyAppVersion=$Version" packaging\windows\ckptgui.iss
if ($LASTEXITCODE -ne 0) { throw "iscc failed" }
Write-Host "dist\ckptgui-$Version-windows-x64-setup.exe"
